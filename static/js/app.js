// The Lyceum web app's shell: the navigation, the language switch and a router over
// history.pushState. Each page lives in its own module under pages/.
import { t, setLang, currentLang } from './i18n.js';
import { api, me, onSession, signOut, ApiError } from './api.js';
import { h, go, link, page, onNavigate, leave } from './dom.js';
import { setupView, authView } from './pages/setup.js';
import { catalogView, courseView, payView, lessonView, libraryView, ordersView } from './pages/learner.js';
import { reviewQueueView, adminHomeView, usersView, adminOrdersView, revenueView } from './pages/admin.js';
import { studioView, newCourseView, editCourseView } from './pages/studio.js';
import { expertsView, expertView, myExpertView, holdView, bookingsView, questionsView } from './pages/experts.js';
import { consultView } from './pages/consult.js';
import { liveView } from './pages/live.js';

document.addEventListener('click', (ev) => {
  const a = ev.target.closest('a[data-link]');
  if (a && !ev.metaKey && !ev.ctrlKey) { ev.preventDefault(); go(a.getAttribute('href')); }
});
window.addEventListener('popstate', () => render());

function renderNav() {
  const nav = document.getElementById('nav');
  const user = me();
  const items = [link('/', t('catalog')), link('/experts', t('ex_nav'))];
  if (user) {
    items.push(link('/library', t('library')), link('/orders', t('orders')));
    items.push(link('/bookings', t('bk_nav')));
    if (user.role === 'instructor' || user.role === 'admin') items.push(link('/studio', t('st_studio')));
    if (user.role === 'admin') items.push(link('/admin', t('ad_admin')));
    items.push(h('span', { class: 'meta', id: 'whoami' }, user.display_name),
      h('button', { type: 'button', onclick: async () => { await signOut(); go('/'); } }, t('signout')));
  } else {
    items.push(link('/signin', t('signin')), link('/signup', t('signup')));
  }
  nav.replaceChildren(...items);
  for (const a of nav.querySelectorAll('a')) if (a.getAttribute('href') === location.pathname) a.setAttribute('aria-current', 'page');
  document.querySelectorAll('[data-i18n]').forEach((el) => { el.textContent = t(el.dataset.i18n); });
}

// ---- router ------------------------------------------------------------------------------

const ROUTES = [
  [/^\/$/, catalogView],
  [/^\/setup$/, setupView],
  [/^\/signin$/, () => authView('signin')],
  [/^\/signup$/, () => authView('signup')],
  [/^\/courses\/([^/]+)$/, courseView],
  [/^\/courses\/([^/]+)\/lessons\/([^/]+)$/, lessonView],
  [/^\/pay\/([^/]+)$/, payView],
  [/^\/library$/, libraryView],
  [/^\/orders$/, ordersView],
  [/^\/experts$/, expertsView],
  [/^\/experts\/me$/, myExpertView],
  [/^\/experts\/([^/]+)$/, expertView],
  [/^\/hold\/([^/]+)$/, holdView],
  [/^\/bookings$/, bookingsView],
  [/^\/questions$/, questionsView],
  [/^\/consult\/([^/]+)$/, consultView],
  [/^\/live\/([^/]+)$/, liveView],
  [/^\/admin\/review$/, reviewQueueView],
  [/^\/admin$/, adminHomeView],
  [/^\/admin\/users$/, usersView],
  [/^\/admin\/orders$/, adminOrdersView],
  [/^\/admin\/revenue$/, revenueView],
  [/^\/studio$/, studioView],
  [/^\/studio\/courses\/new$/, newCourseView],
  [/^\/studio\/courses\/([^/]+)$/, editCourseView],
];

let setupChecked = false;

async function render() {
  leave();
  renderNav();
  if (!setupChecked) {
    setupChecked = true;
    const s = await api('GET', '/setup').catch(() => ({ open: false }));
    if (s.open && location.pathname === '/') history.replaceState(null, '', '/setup');
  }
  for (const [re, view] of ROUTES) {
    const m = location.pathname.match(re);
    if (m) {
      try { await view(...m.slice(1)); } catch (e) {
        if (e instanceof ApiError && e.status === 401) { go(`/signin?next=${location.pathname}`); return; }
        page(e instanceof ApiError && e.status === 404 ? t('not_found') : t('error_title'), h('p', { class: 'error', role: 'alert' }, e.message));
      }
      return;
    }
  }
  page(t('not_found'));
}

const langSelect = document.getElementById('lang');
setLang(currentLang());
langSelect.value = currentLang();
langSelect.addEventListener('change', () => { setLang(langSelect.value); render(); });
onNavigate(render);
onSession(() => renderNav());
render();
