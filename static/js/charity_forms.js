// Fund pages: show only the fields of the chosen donation kind, and print a receipt.
// The pages work without this script; the server checks every field.
(function () {
  "use strict";
  document.querySelectorAll("form[data-kind-form]").forEach(function (form) {
    var radios = form.querySelectorAll('input[name="kind"]');
    function update() {
      var chosen = form.querySelector('input[name="kind"]:checked');
      form.querySelectorAll("fieldset[data-kind]").forEach(function (set) {
        set.hidden = Boolean(chosen) && set.getAttribute("data-kind") !== chosen.value;
      });
    }
    radios.forEach(function (radio) { radio.addEventListener("change", update); });
    update();
  });
  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.addEventListener("click", function () { window.print(); });
  });
})();
