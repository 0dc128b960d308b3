// The workspace tab: signs the person in (Teams SSO through TeamsJS, or locally by choosing a
// person), fetches each page from the bot as HTML built on the server, and sends the actions of
// the cards it shows exactly as Teams sends them from chat. Routes are the URL's hash: #/incident/5.
(function () {
  'use strict';

  const API = '/tab/api';
  const ADAPTIVE_CARD = 'application/vnd.microsoft.card.adaptive';
  const MESSAGE = 'application/vnd.microsoft.activity.message';
  const content = document.getElementById('content');
  const status = document.getElementById('status');
  const dialog = document.getElementById('card-dialog');
  let authorization = null; // async () => the Authorization header's value
  let inTeams = false;
  let appId = '';

  class SignedOut extends Error {}

  function say(text) {
    status.textContent = '';
    // A new text in the live region is read out even when it repeats the last one.
    window.setTimeout(() => { status.textContent = text; }, 50);
  }

  function setTheme(theme) {
    const known = ['default', 'dark', 'contrast'];
    document.documentElement.dataset.theme = known.includes(theme) ? theme : 'default';
  }

  async function request(path, options = {}) {
    const headers = { ...(options.headers || {}), Authorization: await authorization() };
    const response = await fetch(API + path, { ...options, headers });
    if (response.status === 401) throw new SignedOut();
    return response;
  }

  function route() {
    const hash = location.hash;
    return hash.startsWith('#/') ? hash.slice(1) : '/';
  }

  function apiPathOf(path) {
    const [page, query] = path.split('?');
    const target = page === '/' || page === '' ? '/home' : page;
    return target + (query ? '?' + query : '');
  }

  async function show({ focus = true } = {}) {
    content.setAttribute('aria-busy', 'true');
    try {
      const response = await request(apiPathOf(route()));
      const page = await response.json();
      content.innerHTML = page.html || '';
      document.title = `${page.title} – Customer Engagement register`;
      wire(content);
      if (focus) {
        const title = document.getElementById('page-title');
        if (title) title.focus();
      }
    } catch (error) {
      if (error instanceof SignedOut) {
        content.innerHTML = '<h1 id="page-title" tabindex="-1">Signed out</h1><p>Your sign-in was not accepted. Open this tab again from Teams.</p>';
      } else {
        content.innerHTML = '<h1 id="page-title" tabindex="-1">Something went wrong</h1><p>The register could not be reached. Try again in a minute.</p>';
      }
    } finally {
      content.removeAttribute('aria-busy');
    }
  }

  // --- links, forms and downloads in a page --------------------------------------------------

  function wire(root) {
    root.querySelectorAll('form[data-route]').forEach((form) => {
      form.addEventListener('submit', (event) => {
        event.preventDefault();
        const query = new URLSearchParams();
        for (const [key, value] of new FormData(form)) {
          if (String(value).trim() !== '') query.set(key, String(value).trim());
        }
        const text = query.toString();
        location.hash = form.dataset.route + (text ? '?' + text : '');
      });
    });
    root.querySelectorAll('a[data-download]').forEach((anchor) => {
      anchor.addEventListener('click', (event) => {
        event.preventDefault();
        fetchFile(anchor.dataset.download);
      });
    });
    root.querySelectorAll('.card-slot').forEach(loadCard);
  }

  async function fetchFile(path) {
    say('Preparing the download…');
    try {
      const response = await request(path.replace(/^\/tab\/api/, ''));
      if (!response.ok) {
        const problem = await response.json().catch(() => ({}));
        say(problem.error ? `Not downloaded: ${problem.error}.` : 'Not downloaded.');
        return;
      }
      const disposition = response.headers.get('Content-Disposition') || '';
      const name = (disposition.match(/filename="([^"]+)"/) || [])[1] || 'download';
      const url = URL.createObjectURL(await response.blob());
      const anchor = document.createElement('a');
      anchor.href = url;
      anchor.download = name;
      document.body.appendChild(anchor);
      anchor.click();
      anchor.remove();
      window.setTimeout(() => URL.revokeObjectURL(url), 60000);
      say(`Downloaded ${name}.`);
    } catch (error) {
      say('Not downloaded: the register could not be reached.');
    }
  }

  // --- cards, as chat shows them ---------------------------------------------------------------

  function hostConfig(headingLevel) {
    const style = getComputedStyle(document.documentElement);
    const v = (name) => style.getPropertyValue(name).trim();
    const colours = {
      default: { default: v('--fg'), subtle: v('--subtle') },
      dark: { default: v('--fg'), subtle: v('--subtle') },
      light: { default: v('--fg'), subtle: v('--subtle') },
      accent: { default: v('--link'), subtle: v('--link') },
      good: { default: v('--good'), subtle: v('--good') },
      warning: { default: v('--attention'), subtle: v('--attention') },
      attention: { default: v('--attention'), subtle: v('--attention') },
    };
    return new AdaptiveCards.HostConfig({
      fontFamily: 'Segoe UI, system-ui, sans-serif',
      textBlock: { headingLevel },
      supportsInteractivity: true,
      containerStyles: {
        default: { backgroundColor: v('--bg'), foregroundColors: colours },
        emphasis: { backgroundColor: v('--panel'), foregroundColors: colours },
        accent: { backgroundColor: v('--panel'), foregroundColors: colours },
        good: { backgroundColor: v('--panel'), foregroundColors: colours },
        attention: { backgroundColor: v('--panel'), foregroundColors: colours },
        warning: { backgroundColor: v('--panel'), foregroundColors: colours },
      },
      actions: { maxActions: 6, buttonSpacing: 8, actionsOrientation: 'horizontal', actionAlignment: 'left', showCard: { actionMode: 'inline' } },
    });
  }

  // Teams renders a card's text as a small subset of Markdown; the cards' own text keeps people's
  // words inert (cards/elements.py), so only the bot's links and emphasis are made active here.
  function markdown(text) {
    let html = escapeHtml(text);
    html = html.replace(/\[([^\]]+)\]\((https?:\/\/[^\s)"'<>]+)\)/g, (_, words, url) => `<a href="${url}" data-card-link>${words}</a>`);
    html = html.replace(/\*\*([^*]+)\*\*/g, '<strong>$1</strong>');
    return html.replace(/\n/g, '<br>');
  }

  AdaptiveCards.AdaptiveCard.onProcessMarkdown = (text, result) => {
    result.outputHtml = markdown(text);
    result.didProcess = true;
  };

  function render(host, json, context) {
    // A card's headings sit below the page's (h1), its section (h2) and its slot's or dialog's title.
    const level = context.dialog ? 3 : 4;
    const card = new AdaptiveCards.AdaptiveCard();
    card.hostConfig = hostConfig(level);
    card.onExecuteAction = (action) => act(action, host, context);
    card.parse(json);
    const element = card.render();
    host.replaceChildren(element);
    host.querySelectorAll('[role="heading"]:not([aria-level])').forEach((h) => h.setAttribute('aria-level', String(level)));
    host.querySelectorAll('a[data-card-link]').forEach((a) => a.addEventListener('click', (event) => {
      event.preventDefault();
      openLink(a.href);
    }));
    // Buttons that open a dialog say so to screen readers.
    host.querySelectorAll('button[aria-expanded]').forEach((button) => button.removeAttribute('aria-expanded'));
  }

  async function invoke(name, value) {
    const response = await request('/action', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ name, value }),
    });
    const answer = await response.json();
    if (!response.ok) throw new Error(answer.error || 'refused');
    return answer.body;
  }

  async function loadCard(slot) {
    const host = slot.querySelector('.card-host');
    try {
      const answer = await invoke('adaptiveCard/action', {
        action: { type: 'Action.Execute', verb: slot.dataset.verb, data: JSON.parse(slot.dataset.card) },
      });
      showInvokeAnswer(answer, host, { slot });
    } catch (error) {
      host.textContent = 'This card could not be loaded.';
    }
  }

  function showInvokeAnswer(answer, host, context) {
    if (answer && answer.type === ADAPTIVE_CARD) {
      render(host, answer.value, context);
    } else if (answer && answer.type === MESSAGE) {
      say(answer.value);
    } else if (answer && answer.value && answer.value.message) {
      say(answer.value.message);
    }
  }

  function withoutTeams(data) {
    const copy = { ...(data || {}) };
    delete copy.msteams;
    return copy;
  }

  async function act(action, host, context) {
    try {
      if (action instanceof AdaptiveCards.OpenUrlAction) {
        openLink(action.url);
        return;
      }
      if (action instanceof AdaptiveCards.ExecuteAction) {
        const answer = await invoke('adaptiveCard/action', {
          action: { type: 'Action.Execute', verb: action.verb, data: action.data },
        });
        showInvokeAnswer(answer, host, context);
        return;
      }
      if (action instanceof AdaptiveCards.SubmitAction) {
        const data = action.data || {};
        const kind = data.msteams && data.msteams.type;
        if (kind === 'task/fetch') {
          showTask(await invoke('task/fetch', { data: withoutTeams(data) }));
        } else if (kind === 'imBack') {
          say(`Type "${data.msteams.value}" in the bot's chat.`);
          openChat();
        } else if (context.dialog) {
          showTask(await invoke('task/submit', { data: withoutTeams(data) }));
        }
      }
    } catch (error) {
      say('That was not done: the register could not be reached, or refused it.');
    }
  }

  function showTask(answer) {
    const task = answer && answer.task;
    if (task && task.type === 'continue') {
      document.getElementById('card-dialog-title').textContent = task.value.title || 'Dialog';
      const body = document.getElementById('card-dialog-body');
      render(body, task.value.card.content, { dialog: true });
      if (!dialog.open) dialog.showModal();
      const first = body.querySelector('input, select, textarea, button');
      if (first) first.focus();
      return;
    }
    if (dialog.open) dialog.close();
    if (task && task.type === 'message') say(task.value);
    show({ focus: false }); // the page shows what the action changed
  }

  // --- Teams, and signing in -----------------------------------------------------------------

  function openLink(url) {
    if (inTeams && /^https:\/\/teams\.microsoft\.com\/l\//.test(url)) {
      microsoftTeams.app.openLink(url);
    } else {
      window.open(url, '_blank', 'noopener');
    }
  }

  function chatLink() {
    return `https://teams.microsoft.com/l/chat/0/0?users=28:${encodeURIComponent(appId)}`;
  }

  function openChat() {
    if (appId) openLink(chatLink());
  }

  function withTimeout(promise, ms) {
    return Promise.race([promise, new Promise((_, reject) => window.setTimeout(() => reject(new Error('timeout')), ms))]);
  }

  async function signInWithTeams() {
    await withTimeout(microsoftTeams.app.initialize(), 5000);
    inTeams = true;
    const context = await microsoftTeams.app.getContext();
    setTheme(context.app && context.app.theme);
    microsoftTeams.app.registerOnThemeChangeHandler((theme) => {
      setTheme(theme);
      show({ focus: false });
    });
    // A deep link from a card names the page to open (`subEntityId`: "incident/5").
    const sub = context.page && context.page.subPageId;
    if (sub && !location.hash.startsWith('#/') && /^[a-z/\-0-9?=&]+$/i.test(sub)) {
      history.replaceState(null, '', '#/' + sub.replace(/^\//, ''));
    }
    authorization = async () => 'Bearer ' + (await microsoftTeams.authentication.getAuthToken());
  }

  function signInLocally(people) {
    const chosen = sessionStorage.getItem('workspace-person');
    if (chosen && people.some((p) => String(p.id) === chosen)) {
      authorization = async () => 'Local ' + chosen;
      const out = document.getElementById('sign-out');
      out.hidden = false;
      out.addEventListener('click', () => {
        sessionStorage.removeItem('workspace-person');
        location.hash = '';
        location.reload();
      });
      return true;
    }
    const items = people
      .map((p) => `<li><button type="button" data-person="${p.id}">${escapeHtml(p.name)} <span>(${escapeHtml(p.roles)})</span></button></li>`)
      .join('');
    content.innerHTML =
      '<h1 id="page-title" tabindex="-1">Sign in as</h1>' +
      '<p>This bot has no app id, so it runs on this computer only: choose who to be. In Teams, people are signed in by their Teams account.</p>' +
      `<ul class="people">${items}</ul>`;
    content.querySelectorAll('button[data-person]').forEach((button) => {
      button.addEventListener('click', () => {
        sessionStorage.setItem('workspace-person', button.dataset.person);
        location.reload();
      });
    });
    return false;
  }

  function escapeHtml(text) {
    const div = document.createElement('div');
    div.textContent = text;
    return div.innerHTML;
  }

  async function start() {
    setTheme(new URLSearchParams(location.search).get('theme') || 'default');
    document.querySelector('.skip').addEventListener('click', (event) => {
      event.preventDefault();
      content.focus();
    });
    document.getElementById('card-dialog-close').addEventListener('click', () => dialog.close());
    let options;
    try {
      options = await (await fetch(API + '/sign-in')).json();
    } catch (error) {
      content.innerHTML = '<h1 id="page-title" tabindex="-1">The register could not be reached</h1>';
      return;
    }
    if (options.mode === 'local') {
      if (!signInLocally(options.people)) return;
    } else {
      appId = options.appId || '';
      try {
        await signInWithTeams();
      } catch (error) {
        content.innerHTML =
          '<h1 id="page-title" tabindex="-1">Open this in Microsoft Teams</h1>' +
          '<p>The register signs you in with your Teams account: open the Customer Engagement app in Teams.</p>';
        return;
      }
      const chat = document.getElementById('open-chat');
      chat.href = chatLink();
      chat.hidden = false;
      chat.addEventListener('click', (event) => {
        event.preventDefault();
        openChat();
      });
    }
    window.addEventListener('hashchange', () => {
      if (location.hash === '' || location.hash.startsWith('#/')) {
        status.textContent = ''; // what an action said belongs to the page it was done on
        show();
      }
    });
    // On opening, the reader starts at the top (the skip link); later pages move focus to their title.
    show({ focus: false });
  }

  start();
})();
