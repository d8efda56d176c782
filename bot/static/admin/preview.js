// Draws each notice on the plan page with linesim's renderer (LineRender, /admin/flex.js),
// from the JSON the server embedded beside it. Buttons do nothing in a preview.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  for (const holder of document.querySelectorAll("[data-notice]")) {
    const source = document.getElementById(holder.dataset.notice);
    const message = JSON.parse(source.textContent);
    holder.replaceChildren(LineRender.message(message, () => {}));
  }
});
