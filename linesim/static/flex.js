// Renders LINE message objects (text, Flex, templates) as DOM, close to the LINE app.
// Everything is built with createElement/textContent: message content is never HTML.
"use strict";

const LineRender = (() => {
  const SIZES = {xxs: 10, xs: 11, sm: 13, md: 14, lg: 16, xl: 18, xxl: 20,
                 "3xl": 24, "4xl": 28, "5xl": 32};
  const SPACING = {none: 0, xs: 2, sm: 4, md: 8, lg: 12, xl: 16, xxl: 20};

  function el(tag, cls, text) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  function px(value, table) {
    if (value === undefined || value === null) return null;
    if (table && value in table) return table[value] + "px";
    return String(value);
  }

  function actionLabel(action, fallback) {
    if (!action) return fallback || "";
    return action.label || action.displayText || action.text || fallback || action.type;
  }

  function clickable(node, action, onAction) {
    if (!action) return node;
    node.classList.add("tappable");
    node.dataset.actionType = action.type;
    node.addEventListener("click", (ev) => { ev.stopPropagation(); onAction(action); });
    if (node.tagName !== "BUTTON") {
      // Tappable text, images and bubbles are reachable by Tab and work with Enter/Space.
      node.tabIndex = 0;
      node.setAttribute("role", "button");
      if (action.label) node.setAttribute("aria-label", action.label);
      node.addEventListener("keydown", (ev) => {
        if (ev.key !== "Enter" && ev.key !== " ") return;
        ev.preventDefault();
        ev.stopPropagation();
        onAction(action);
      });
    }
    return node;
  }

  function picture(url, alt, cls) {
    // Offline (training rooms) the image may not load: show what it is instead.
    const img = el("img", cls);
    img.alt = alt;
    img.src = url || "";
    img.loading = "lazy";
    img.addEventListener("error", () => img.replaceWith(el("span", "img-missing", `［${alt}］`)));
    return img;
  }

  function text(c, onAction) {
    const node = el("div", "f-text");
    if (Array.isArray(c.contents) && c.contents.length) {
      for (const span of c.contents) {
        const s = el("span", "f-span", span.text);
        if (span.color) s.style.color = span.color;
        if (span.weight === "bold") s.style.fontWeight = "bold";
        if (span.size) s.style.fontSize = px(span.size, SIZES);
        node.appendChild(s);
      }
    } else {
      node.textContent = c.text || "";
    }
    if (c.size) node.style.fontSize = px(c.size, SIZES);
    if (c.weight === "bold") node.style.fontWeight = "bold";
    if (c.color) node.style.color = c.color;
    if (c.align) node.style.textAlign = c.align === "end" ? "right" : c.align === "start" ? "left" : "center";
    if (c.decoration && c.decoration !== "none") node.style.textDecoration = c.decoration;
    node.classList.add(c.wrap ? "wrap" : "nowrap");
    return clickable(node, c.action, onAction);
  }

  function button(c, onAction) {
    const style = c.style || "link";
    const node = el("button", "f-button " + style, actionLabel(c.action));
    node.type = "button";
    if (c.height === "sm") node.classList.add("small");
    if (c.color) {
      if (style === "link") node.style.color = c.color; else node.style.background = c.color;
    }
    return clickable(node, c.action, onAction);
  }

  function image(c, onAction) {
    const wrap = el("div", "f-image size-" + (c.size || "md"));
    const img = picture(c.url, c.altText || "画像");
    img.style.objectFit = c.aspectMode === "cover" ? "cover" : "contain";
    if (c.aspectRatio) wrap.style.aspectRatio = c.aspectRatio.replace(":", " / ");
    wrap.appendChild(img);
    return clickable(wrap, c.action, onAction);
  }

  function box(c, onAction) {
    const layout = c.layout || "vertical";
    const node = el("div", "f-box " + layout);
    const gap = px(c.spacing, SPACING);
    for (const child of c.contents || []) {
      const rendered = component(child, onAction, layout);
      if (gap && node.childNodes.length && child.type !== "separator") {
        rendered.style[layout === "vertical" ? "marginTop" : "marginLeft"] = gap;
      }
      node.appendChild(rendered);
    }
    if (c.backgroundColor) node.style.background = c.backgroundColor;
    if (c.cornerRadius) node.style.borderRadius = px(c.cornerRadius, SPACING);
    if (c.paddingAll) node.style.padding = px(c.paddingAll, SPACING);
    if (c.borderWidth && c.borderColor) node.style.border = `1px solid ${c.borderColor}`;
    return clickable(node, c.action, onAction);
  }

  function component(c, onAction, parentLayout) {
    let node;
    switch (c.type) {
      case "box": node = box(c, onAction); break;
      case "text": node = text(c, onAction); break;
      case "button": node = button(c, onAction); break;
      case "image": node = image(c, onAction); break;
      case "icon": node = picture(c.url, "アイコン", "f-icon"); break;
      case "separator":
        node = el("hr", "f-separator");
        if (c.color) node.style.borderColor = c.color;
        break;
      case "filler": node = el("div", "f-filler"); break;
      case "spacer": node = el("div", "f-spacer"); break;
      default: node = el("div", "f-unknown", `[${c.type}]`);
    }
    // LINE's default flex: 1 inside horizontal/baseline boxes, 0 inside vertical ones;
    // icons and fillers-with-no-flex keep their own size.
    const flex = c.flex !== undefined ? c.flex
      : (parentLayout === "vertical" || c.type === "icon" ? 0 : 1);
    node.style.flex = `${flex} ${flex} ${flex ? "0" : "auto"}`;
    if (c.margin) node.style[parentLayout === "vertical" ? "marginTop" : "marginLeft"] = px(c.margin, SPACING);
    if (c.gravity === "center") node.style.alignSelf = "center";
    return node;
  }

  function bubble(b, onAction) {
    const node = el("div", "f-bubble size-" + (b.size || "mega"));
    for (const part of ["header", "hero", "body", "footer"]) {
      if (!b[part]) continue;
      const block = el("div", "f-block " + part);
      const styles = (b.styles || {})[part] || {};
      if (styles.backgroundColor) block.style.background = styles.backgroundColor;
      if (styles.separator) block.classList.add("separated");
      block.appendChild(component(b[part], onAction, "vertical"));
      node.appendChild(block);
    }
    return clickable(node, b.action, onAction);
  }

  function flex(contents, onAction) {
    if (contents.type === "carousel") {
      const node = el("div", "f-carousel");
      for (const b of contents.contents || []) node.appendChild(bubble(b, onAction));
      return node;
    }
    return bubble(contents, onAction);
  }

  function template(t, onAction) {
    const node = el("div", "template " + t.type);
    const columns = t.columns || [t];
    for (const col of columns) {
      const card = el("div", "template-card");
      if (col.title) card.appendChild(el("div", "template-title", col.title));
      if (col.text) card.appendChild(el("div", "template-text", col.text));
      for (const a of col.actions || (col.action ? [col.action] : [])) {
        const b = el("button", "f-button link", actionLabel(a));
        b.type = "button";
        card.appendChild(clickable(b, a, onAction));
      }
      node.appendChild(card);
    }
    return node;
  }

  function message(m, onAction) {
    switch (m.type) {
      case "text": case "textV2": return el("div", "bubble-text", m.text);
      case "sticker": return el("div", "sticker", "（スタンプ）");
      case "image": return image({url: m.previewImageUrl, size: "full"}, onAction);
      case "flex": return flex(m.contents || {}, onAction);
      case "template": return template(m.template || {}, onAction);
      default: return el("div", "bubble-text", `[${m.type} メッセージ]`);
    }
  }

  return {message, el, actionLabel, clickable};
})();
