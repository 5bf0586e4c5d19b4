/* Kura's page behaviour, kept out of the HTML so the Content-Security-Policy needs no inline script. */
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  // The organization switcher in the admin header submits as soon as another organization is picked.
  document.querySelectorAll("select[data-kura-submit-on-change]").forEach(function (select) {
    select.addEventListener("change", function () {
      select.form.submit();
    });
  });
  // "Print" on billing documents.
  document.querySelectorAll("a[data-kura-print]").forEach(function (link) {
    link.addEventListener("click", function (event) {
      event.preventDefault();
      window.print();
    });
  });
});
