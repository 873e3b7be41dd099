// lanyard console: the copy button of a new secret. Progressive enhancement only: without
// JavaScript the button stays hidden and the secret is plain, selectable text.
(function () {
  'use strict';

  function reveal() {
    var secret = document.querySelector('[data-secret]');
    document.querySelectorAll('[data-copy]').forEach(function (b) { b.hidden = !secret; });
  }

  function selectSecret(el) {
    var range = document.createRange();
    range.selectNodeContents(el);
    var sel = window.getSelection();
    sel.removeAllRanges();
    sel.addRange(range);
  }

  function copied(ok) {
    var status = document.querySelector('[data-copied]');
    if (status) {
      status.textContent = ok ? 'Copied.' : 'Selected: press Ctrl+C (⌘C) to copy.';
    }
  }

  document.addEventListener('click', function (e) {
    var button = e.target.closest && e.target.closest('[data-copy]');
    var secret = document.querySelector('[data-secret]');
    if (!button || !secret) {
      return;
    }
    var text = secret.textContent.trim();
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(function () { copied(true); }, function () {
        selectSecret(secret);
        copied(false);
      });
      return;
    }
    selectSecret(secret);
    var ok = false;
    try {
      ok = document.execCommand('copy');
    } catch (err) {
      ok = false;
    }
    copied(ok);
  });

  // After htmx replaced the page's content, keyboard and screen-reader users continue at the
  // new content, not at the top of the document.
  function focusContent(e) {
    reveal();
    var main = document.getElementById('main');
    if (main && e.detail && e.detail.target && e.detail.target.id === 'main') {
      main.focus();
    }
  }

  document.addEventListener('DOMContentLoaded', reveal);
  document.addEventListener('htmx:afterSettle', focusContent);
})();
