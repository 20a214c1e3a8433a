// The console's only script of its own: copy buttons (`data-copy="#id"` copies that input's
// value). No inline script anywhere: the Content-Security-Policy forbids it.
document.addEventListener("click", function (event) {
  var button = event.target.closest("[data-copy]");
  if (!button) return;
  var field = document.querySelector(button.getAttribute("data-copy"));
  if (!field) return;
  var done = function () { button.textContent = "已复制"; };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(field.value).then(done);
  } else {
    field.select();
    if (document.execCommand("copy")) done();
  }
});

// A form marked `data-reset-on-success` empties itself after htmx sent it and got a 2xx.
document.addEventListener("htmx:afterRequest", function (event) {
  var form = event.target;
  if (form.matches && form.matches("form[data-reset-on-success]") && event.detail.successful) {
    form.reset();
  }
});
