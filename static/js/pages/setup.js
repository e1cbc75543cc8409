// First run (create the first admin or load the demo) and signing in or up.
import { t } from '../i18n.js';
import { api, signIn, signUp } from '../api.js';
import { h, toast, submitter, errorSlot, field, go, link, page } from '../dom.js';

export async function setupView() {
  const result = h('div', { 'aria-live': 'polite' });
  const demo = h('button', { type: 'button', id: 'load-demo', onclick: async () => {
    demo.disabled = true; demo.textContent = t('loading');
    try {
      const d = await api('POST', '/setup/demo');
      result.replaceChildren(h('h2', {}, t('demo_loaded')), h('p', {}, t('demo_password', { p: d.password })),
        h('ul', { class: 'grid' }, d.accounts.map((a) => h('li', { class: 'card' },
          h('h3', {}, a.display_name), h('p', { class: 'meta' }, `${a.email} · ${t(`role_${a.role}`)}`),
          h('button', { type: 'button', class: 'secondary', onclick: async () => {
            await signIn(a.email, d.password); go(d.live_sessions[0] ? `/courses/${d.live_sessions[0].course_id}` : '/');
          } }, t('signin_as', { name: a.display_name }))))),
        d.live_sessions.length ? h('p', {}, `${t('live_now')}: `, d.live_sessions.map((s) => link(`/courses/${s.course_id}`, s.title))) : null);
      demo.remove();
    } catch (e) { demo.disabled = false; demo.textContent = t('load_demo'); toast(e); }
  } }, t('load_demo'));
  const form = h('form', { class: 'stack card', onsubmit: submitter(async (fd) => {
    await api('POST', '/setup/admin', { email: fd.get('email'), password: fd.get('password'), display_name: fd.get('name') });
    await signIn(fd.get('email'), fd.get('password'));
    go('/admin/review');
  }) }, h('h2', {}, t('create_admin')), field(t('name'), { name: 'name', required: true, autocomplete: 'name' }),
  field(t('email'), { name: 'email', type: 'email', required: true, autocomplete: 'email' }),
  field(t('password'), { name: 'password', type: 'password', required: true, minlength: 10, autocomplete: 'new-password' }),
  errorSlot(), h('button', { type: 'submit' }, t('create_admin')));
  page(t('setup_title'), h('p', {}, t('setup_intro')), h('p', {}, demo), result, form);
}

export function authView(kind) {
  const up = kind === 'signup';
  const form = h('form', { class: 'stack', onsubmit: submitter(async (fd) => {
    if (up) await signUp(fd.get('email'), fd.get('password'), fd.get('name'));
    else await signIn(fd.get('email'), fd.get('password'));
    // Only a path of this site: never another origin (`//host`, `/\\host`, `https://…`).
    const next = new URLSearchParams(location.search).get('next') ?? '';
    go(/^\/(?![/\\])/.test(next) ? next : '/');
  }) },
  up ? field(t('name'), { name: 'name', required: true, autocomplete: 'name' }) : null,
  field(t('email'), { name: 'email', type: 'email', required: true, autocomplete: 'email' }),
  field(t('password'), { name: 'password', type: 'password', required: true, minlength: up ? 10 : null, autocomplete: up ? 'new-password' : 'current-password' }),
  errorSlot(), h('button', { type: 'submit' }, up ? t('signup') : t('signin')),
  link(up ? '/signin' : '/signup', up ? t('have_account') : t('no_account')));
  page(up ? t('signup_title') : t('signin_title'), form);
}
