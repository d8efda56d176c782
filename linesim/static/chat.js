// The chat page: pick a resident, show their LINE timeline, act as them.
"use strict";

(() => {
  const {el, message, actionLabel, clickable} = LineRender;
  const $ = (id) => document.getElementById(id);
  let current = null;      // selected resident id
  let lastView = "";       // last rendered JSON, to skip identical re-renders
  let menuOpen = null;     // rich menu shown or collapsed (null: follow `selected`)
  const VIA = {reply: "応答", push: "プッシュ", multicast: "マルチキャスト", broadcast: "一斉配信"};

  async function api(method, path, body) {
    const res = await fetch(path, {
      method, headers: {"Content-Type": "application/json"},
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const data = await res.json().catch(() => ({}));
    if (!res.ok) throw new Error(data.error || res.statusText);
    return data;
  }

  async function loadUsers() {
    const {users} = await api("GET", "/_sim/users");
    const list = $("user-list");
    list.replaceChildren();
    for (const u of users) {
      const item = el("li");
      const b = el("button", "user" + (u.user_id === current ? " selected" : ""));
      b.type = "button";
      b.dataset.userId = u.user_id;
      b.append(el("span", "name", u.display_name),
               el("span", "state", u.following ? "友だち" : (u.ever_followed ? "ブロック中" : "未追加")));
      b.addEventListener("click", () => select(u.user_id));
      item.appendChild(b);
      list.appendChild(item);
    }
  }

  function select(userId) {
    current = userId;
    lastView = "";
    menuOpen = null;
    history.replaceState(null, "", "#" + userId);
    $("phone").hidden = false;
    $("placeholder").hidden = true;
    $("webhook-status").textContent = "";
    loadUsers();
    refresh();
  }

  async function refresh() {
    if (!current) return;
    const view = await api("GET", `/_sim/users/${current}/view`);
    const text = JSON.stringify(view);
    if (text === lastView) return;
    lastView = text;
    render(view);
  }

  function render(view) {
    const u = view.user;
    $("who").textContent = u.display_name;
    $("friend-status").textContent = u.following ? "友だち" : (u.ever_followed ? "ブロック中" : "未追加");
    $("follow").hidden = u.following;
    $("block").hidden = !u.following;
    renderTimeline(view.timeline);
    renderQuickReplies(view.timeline);
    renderRichMenu(u.following ? view.richMenu : null);
  }

  function renderTimeline(timeline) {
    const box = $("timeline");
    box.replaceChildren();
    for (const entry of timeline) {
      if (entry.from === "bot") {
        const row = el("div", "row bot");
        row.appendChild(el("div", "avatar", "市"));
        const col = el("div", "col");
        col.appendChild(message(entry.message, doAction));
        col.appendChild(el("div", "meta", `${VIA[entry.via] || entry.via} · ${entry.at.slice(11, 16)}`));
        row.appendChild(col);
        box.appendChild(row);
      } else if (entry.kind === "follow" || entry.kind === "unfollow") {
        const label = entry.kind === "follow" ? "友だち追加しました" : "ブロックしました";
        box.appendChild(el("div", "system", label));
      } else if (entry.kind === "text" || (entry.kind === "postback" && entry.text)) {
        // A postback only shows in the chat when its action has displayText.
        const row = el("div", "row me");
        row.appendChild(el("div", "bubble-text", entry.text));
        box.appendChild(row);
      } else if (entry.kind === "sticker") {
        const row = el("div", "row me");
        row.appendChild(el("div", "sticker", "（スタンプ）"));
        box.appendChild(row);
      }
    }
    box.scrollTop = box.scrollHeight;
  }

  function renderQuickReplies(timeline) {
    // LINE shows quick replies only under the latest message, until the resident acts.
    const box = $("quick-replies");
    box.replaceChildren();
    const last = timeline[timeline.length - 1];
    if (!last || last.from !== "bot" || !last.message.quickReply) return;
    for (const item of last.message.quickReply.items || []) {
      const chip = el("button", "chip", actionLabel(item.action));
      chip.type = "button";
      box.appendChild(clickable(chip, item.action, doAction));
    }
  }

  function renderRichMenu(menu) {
    const area = $("richmenu-area");
    area.replaceChildren();
    if (!menu) return;
    if (menuOpen === null) menuOpen = !!menu.selected;
    const bar = el("button", "chatbar", `${menu.chatBarText} ${menuOpen ? "▼" : "▲"}`);
    bar.type = "button";
    bar.addEventListener("click", () => { menuOpen = !menuOpen; renderRichMenu(menu); });
    area.appendChild(bar);
    if (!menuOpen) return;
    const grid = el("div", "richmenu");
    grid.style.aspectRatio = `${menu.size.width} / ${menu.size.height}`;
    if (menu.imageUrl) {
      // As in LINE, the uploaded image is the menu; the cells only make its areas tappable.
      grid.classList.add("with-image");
      const img = el("img", "richmenu-image");
      img.src = menu.imageUrl;
      img.alt = menu.name;
      grid.appendChild(img);
    }
    menu.areas.forEach((a, i) => {
      const label = actionLabel(a.action, `エリア${i + 1}`);
      const b = el("button", "richmenu-cell", label);
      b.type = "button";
      b.title = label;  // the image carries the text; hover and screen readers get the label
      Object.assign(b.style, {
        left: `${(100 * a.bounds.x) / menu.size.width}%`,
        top: `${(100 * a.bounds.y) / menu.size.height}%`,
        width: `${(100 * a.bounds.width) / menu.size.width}%`,
        height: `${(100 * a.bounds.height) / menu.size.height}%`,
      });
      grid.appendChild(clickable(b, a.action, doAction));
    });
    area.appendChild(grid);
  }

  function showStatus(result) {
    const hook = result && result.webhook;
    let text = "Webhook URL が未設定です（ボットに送信されていません）";
    if (hook) {
      text = hook.status ? `ボットの応答: ${hook.status}` : `ボットの応答なし（${hook.error}）`;
      if (hook.attempts.length > 1) text += `（再送 ${hook.attempts.length - 1} 回）`;
    }
    const late = hook && hook.attempts.some((a) => a.late);
    if (late) text += "（応答が 2 秒を超えました。実際の LINE ではタイムアウト扱いです）";
    $("webhook-status").textContent = text;
    $("webhook-status").classList.toggle("late", !!late);
  }

  async function act(path, body) {
    if (!current) return;
    try {
      showStatus(await api("POST", `/_sim/users/${current}/${path}`, body));
    } catch (err) {
      $("webhook-status").textContent = `エラー: ${err.message}`;
    }
    await loadUsers();
    await refresh();
  }

  function doAction(action) {
    switch (action.type) {
      case "postback":
        return act("postback", {data: action.data, display_text: action.displayText || action.text});
      case "message": return act("text", {text: action.text});
      case "uri": window.open(action.uri, "_blank", "noopener"); return null;
      case "datetimepicker": return openPicker(action);
      case "richmenuswitch":
        return act("postback", {data: action.data || "",
                                params: {newRichMenuAliasId: action.richMenuAliasId, status: "SUCCESS"}});
      default:
        $("webhook-status").textContent = `「${action.type}」はこのシミュレーターでは使えません`;
        return null;
    }
  }

  function openPicker(action) {
    const kinds = {date: ["date", "日付を選択"], time: ["time", "時刻を選択"],
                   datetime: ["datetime-local", "日時を選択"]};
    const [inputType, title] = kinds[action.mode] || kinds.date;
    const input = $("picker-input");
    input.type = inputType;
    const fix = (v) => (v || "").replace("t", "T");
    input.min = fix(action.min);
    input.max = fix(action.max);
    input.value = fix(action.initial);
    $("picker-title").textContent = title;
    $("picker").dataset.mode = action.mode;
    $("picker").onsubmit = (ev) => {
      ev.preventDefault();
      if (!input.reportValidity()) return;
      $("picker").close();
      act("postback", {data: action.data, params: {[action.mode]: input.value}});
    };
    $("picker").showModal();
  }

  function wire() {
    $("new-user").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const name = $("new-user-name").value.trim();
      if (!name) return;
      const user = await api("POST", "/_sim/users", {display_name: name});
      $("new-user-name").value = "";
      select(user.user_id);
    });
    $("follow").addEventListener("click", () => act("follow"));
    $("block").addEventListener("click", () => act("unfollow"));
    $("sticker").addEventListener("click", () => act("sticker", {}));
    $("composer").addEventListener("submit", (ev) => {
      ev.preventDefault();
      const text = $("message-text").value;
      if (!text.trim()) return;
      $("message-text").value = "";
      act("text", {text});
    });
    $("picker-cancel").addEventListener("click", () => $("picker").close());
    loadUsers().then(() => { if (location.hash.length > 1) select(location.hash.slice(1)); });
    setInterval(() => refresh().catch(() => {}), 1000);
    setInterval(() => loadUsers().catch(() => {}), 5000);
  }

  wire();
})();
