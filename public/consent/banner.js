/*
 * Rampart consent banner. Embed on your site with your org's public id:
 *
 *   <script src="https://rampart.example.com/consent/banner.js" data-org="org_..."
 *           data-policy-version="2026-01" defer></script>
 *
 * Optional: data-subject="<an id of the visitor>" (otherwise a random id kept in localStorage;
 * Rampart stores it as "visitor:<id>", apart from the subject ids your server records with an
 * API key), data-purposes="support_chat,ab_tests" (the org's own purposes to offer).
 * It adds no inline style or script (strict CSP): its look comes from banner.css, loaded from the
 * same place. Pages read the choice with window.RampartConsent.get() or listen for the
 * "rampart:consent" event on document; window.RampartConsent.open() shows the banner again.
 */
(function () {
  'use strict';
  var script = document.currentScript;
  if (!script || window.RampartConsent) return;
  var base = new URL(script.src);
  var publicId = script.getAttribute('data-org') || '';
  var policyVersion = script.getAttribute('data-policy-version') || '1';
  var extra = (script.getAttribute('data-purposes') || '').split(',').map(function (p) { return p.trim(); }).filter(function (p) { return /^[a-z][a-z0-9_]{0,39}$/.test(p); });
  var STORE = 'rampart-consent:' + publicId;
  var PURPOSES = [
    { id: 'necessary', label: 'Essential', hint: 'Needed for the site to work. Always on.' },
    { id: 'analytics', label: 'Analytics', hint: 'Helps us understand how the site is used.' },
    { id: 'marketing', label: 'Marketing', hint: 'Personalised offers and advertising.' }
  ].concat(extra.map(function (id) { return { id: id, label: id.replace(/_/g, ' '), hint: '' }; }));
  var optedOut = navigator.globalPrivacyControl === true || navigator.doNotTrack === '1';

  function read() {
    try { return JSON.parse(localStorage.getItem(STORE) || 'null'); } catch { return null; }
  }
  function write(value) {
    try { localStorage.setItem(STORE, JSON.stringify(value)); } catch { /* private mode: the choice lasts this page */ }
  }
  function subjectId() {
    var given = script.getAttribute('data-subject');
    if (given) return given;
    var saved = read();
    return (saved && saved.subject_id) || (crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random().toString(16).slice(2));
  }

  var state = read();
  var root = null;
  var returnFocus = null;

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text) node.textContent = text;
    return node;
  }

  function announce(choice) {
    document.dispatchEvent(new CustomEvent('rampart:consent', { detail: Object.assign({}, choice) }));
  }

  function save(purposes) {
    var subject = subjectId();
    var body = JSON.stringify({ subject_id: subject, purposes: purposes, policy_version: policyVersion });
    return fetch(new URL('/v1/public/consents/' + encodeURIComponent(publicId), base), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: body,
      credentials: 'omit',
      keepalive: true
    }).then(function (response) {
      if (!response.ok) throw new Error('consent not recorded (' + response.status + ')');
      return response.json();
    }).then(function (recorded) {
      // What the server recorded wins: an opt-out signal may have turned purposes off.
      state = { subject_id: subject, purposes: recorded.purposes, policy_version: policyVersion, recorded_at: recorded.recorded_at };
      write(state);
      announce(state.purposes);
      close();
    });
  }

  function close() {
    if (root) root.parentNode.removeChild(root);
    root = null;
    if (returnFocus && returnFocus.focus) returnFocus.focus();
  }

  function choices(all) {
    var result = {};
    PURPOSES.forEach(function (purpose) {
      var box = root.querySelector('input[name="' + purpose.id + '"]');
      result[purpose.id] = purpose.id === 'necessary' || (all === null ? box.checked : all);
    });
    return result;
  }

  function open() {
    if (root) { root.querySelector('button').focus(); return; }
    returnFocus = document.activeElement;
    root = el('section', 'rampart-consent');
    root.setAttribute('role', 'dialog');
    root.setAttribute('aria-modal', 'false');
    root.setAttribute('aria-labelledby', 'rampart-consent-title');
    root.setAttribute('aria-describedby', 'rampart-consent-text');
    var title = el('h2', 'rampart-consent__title', 'Your privacy choices');
    title.id = 'rampart-consent-title';
    var text = el('p', 'rampart-consent__text', optedOut
      ? 'Your browser asks sites not to track you, so only essential processing is on.'
      : 'Choose what we may use. You can change this at any time.');
    text.id = 'rampart-consent-text';
    root.appendChild(title);
    root.appendChild(text);
    var list = el('fieldset', 'rampart-consent__purposes');
    list.appendChild(el('legend', 'rampart-consent__legend', 'Purposes'));
    PURPOSES.forEach(function (purpose) {
      var row = el('div', 'rampart-consent__purpose');
      var box = el('input');
      box.type = 'checkbox';
      box.name = purpose.id;
      box.id = 'rampart-consent-' + purpose.id;
      box.checked = purpose.id === 'necessary' || (!optedOut && !!(state && state.purposes && state.purposes[purpose.id]));
      box.disabled = purpose.id === 'necessary' || (optedOut && purpose.id !== 'necessary');
      var label = el('label', 'rampart-consent__label', purpose.label);
      label.htmlFor = box.id;
      row.appendChild(box);
      row.appendChild(label);
      if (purpose.hint) {
        var hint = el('span', 'rampart-consent__hint', purpose.hint);
        hint.id = box.id + '-hint';
        box.setAttribute('aria-describedby', hint.id);
        row.appendChild(hint);
      }
      list.appendChild(row);
    });
    root.appendChild(list);
    var actions = el('div', 'rampart-consent__actions');
    var reject = el('button', 'rampart-consent__button', 'Essential only');
    var saveChoices = el('button', 'rampart-consent__button', 'Save choices');
    var accept = el('button', 'rampart-consent__button rampart-consent__button--primary', 'Accept all');
    [reject, saveChoices, accept].forEach(function (button) { button.type = 'button'; actions.appendChild(button); });
    var status = el('p', 'rampart-consent__status');
    status.setAttribute('role', 'status');
    root.appendChild(actions);
    root.appendChild(status);
    function submit(all) {
      return function () {
        status.textContent = 'Saving...';
        save(choices(all)).catch(function () { status.textContent = 'Your choice could not be saved. Please try again.'; });
      };
    }
    reject.addEventListener('click', submit(false));
    saveChoices.addEventListener('click', submit(null));
    accept.addEventListener('click', submit(true));
    // Escape leaves the banner for the page without deciding; it stays until a choice is made.
    root.addEventListener('keydown', function (event) {
      if (event.key === 'Escape' && returnFocus && returnFocus.focus) returnFocus.focus();
    });
    document.body.appendChild(root);
    reject.focus();
  }

  window.RampartConsent = {
    /** The recorded choice ({purpose: boolean}), or null before one is made. */
    get: function () { return state && state.purposes ? Object.assign({}, state.purposes) : null; },
    open: open
  };

  var sheet = document.createElement('link');
  sheet.rel = 'stylesheet';
  sheet.href = new URL('banner.css', base).href;
  document.head.appendChild(sheet);

  function start() {
    if (state && state.policy_version === policyVersion) announce(state.purposes);
    else open();
  }
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
