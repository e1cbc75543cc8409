// The admin desk: the course review queue.
import { t } from '../i18n.js';
import { api } from '../api.js';
import { h, toast, page, rerender } from '../dom.js';
import { courseCard } from './learner.js';

export async function reviewQueueView() {
  const data = await api('GET', '/admin/courses?status=in_review');
  const items = data.items ?? data;
  page(t('admin'), items.length ? h('ul', { class: 'grid', id: 'queue' }, items.map((c) => {
    const reason = h('input', { name: 'reason' });
    return courseCard(c, h('div', { class: 'stack' },
      h('button', { type: 'button', onclick: async () => { try { await api('POST', `/courses/${c.id}/approve`); toast(t('approved'), 'info'); rerender(); } catch (e) { toast(e); } } }, t('approve_course')),
      h('label', {}, t('reject_reason'), reason),
      h('button', { type: 'button', class: 'secondary', onclick: async () => { try { await api('POST', `/courses/${c.id}/reject`, { reason: reason.value }); rerender(); } catch (e) { toast(e); } } }, t('reject_course'))));
  })) : h('p', {}, t('queue_empty')));
}
