/* acctd admin page: plain DOM, no framework, no inline script or style
 * (the Content-Security-Policy forbids both). Hash routes:
 *   #/settings/{profile,tokens,audit,advanced,password}  #/admin/{users,audit,nodes} */
"use strict";
(() => {
/* The CSRF token lives in memory only: every tab reads its session's token
 * from GET /actor with the cookie, and a stale one is fetched again. */
const S = { user: null, userAt: 0, csrf: null, gen: 0, tokenLimit: 2, msg: null, focusTitle: false };
let uid = 0;
const main = document.getElementById("main");
const who = document.getElementById("who");
/* the logo's content-hashed URL, from index.html: fetched once, cached */
const LOGO = document.querySelector(".brand img").getAttribute("src");
const THIS_SCRIPT = document.currentScript;

/* ---- DOM helpers ---- */
function h(tag, props, ...kids) {
	const el = document.createElement(tag);
	for (const [k, v] of Object.entries(props || {})) {
		if (v == null || v === false) continue;
		if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
		else if (k === "class") el.className = v;
		else if (k === "text") el.textContent = v;
		else el.setAttribute(k, v === true ? "" : v);
	}
	for (const c of kids.flat(9)) if (c != null && c !== false) el.append(c instanceof Node ? c : String(c));
	return el;
}
const ICONS = {
	eye: "M2 12s3.6-7 10-7 10 7 10 7-3.6 7-10 7S2 12 2 12zM12 9a3 3 0 1 0 0 6 3 3 0 0 0 0-6z",
	eyeoff: "M2 12s3.6-7 10-7 10 7 10 7-3.6 7-10 7S2 12 2 12zM12 9a3 3 0 1 0 0 6 3 3 0 0 0 0-6zM3 3l18 18",
	copy: "M9 9h11v11H9zM5 15H4V4h11v1",
	check: "M5 12.5l4.5 4.5L19 7.5",
	menu: "M4 7h16M4 12h16M4 17h16",
	plus: "M12 5v14M5 12h14",
	warn: "M12 3l10 18H2zM12 10v5M12 18v.5",
};
function icon(name) {
	const ns = "http://www.w3.org/2000/svg";
	const svg = document.createElementNS(ns, "svg");
	svg.setAttribute("viewBox", "0 0 24 24");
	svg.setAttribute("aria-hidden", "true");
	svg.setAttribute("class", "icon");
	const p = document.createElementNS(ns, "path");
	p.setAttribute("d", ICONS[name]);
	svg.append(p);
	return svg;
}
function toast(text) {
	const t = document.getElementById("toast");
	t.textContent = text;
	t.classList.add("show");
	clearTimeout(toast.timer);
	toast.timer = setTimeout(() => t.classList.remove("show"), 4000);
}
/* One format for every time on the page: local time with its zone
 * ("2026-11-28 05:10:00 CET"); UTC in the tooltip. */
const ZONE = new Intl.DateTimeFormat(undefined, { timeZoneName: "short" });
function fmtLocal(d) {
	const p = (n) => String(n).padStart(2, "0");
	const zone = (ZONE.formatToParts(d).find((x) => x.type === "timeZoneName") || {}).value || "";
	return d.getFullYear() + "-" + p(d.getMonth() + 1) + "-" + p(d.getDate()) + " " + p(d.getHours()) + ":" + p(d.getMinutes()) + ":" + p(d.getSeconds()) + (zone ? " " + zone : "");
}
function fmtTime(s) {
	if (!s) return "—";
	const d = new Date(s);
	if (isNaN(d)) return s;
	return h("time", { datetime: s, title: d.toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC") }, fmtLocal(d));
}
/* seconds as people say them: "1 second", "2 minutes", "1 hour" */
function humanWait(sec) {
	sec = Math.max(1, Math.ceil(+sec || 1));
	const [n, unit] = sec < 60 ? [sec, "second"] : sec < 3600 ? [Math.ceil(sec / 60), "minute"] : [Math.ceil(sec / 3600), "hour"];
	return n + " " + unit + (n === 1 ? "" : "s");
}
function hideToast() { document.getElementById("toast").classList.remove("show"); }
function initials(u) {
	const n = (u.display_name || u.handle || "?").trim();
	const w = n.split(/[\s._-]+/).filter(Boolean);
	return ((w[0] || "?")[0] + (w.length > 1 ? w[w.length - 1][0] : "")).toUpperCase();
}
function avatar(u, cls) {
	const ini = h("span", { class: "avatar " + cls, "aria-hidden": "true" }, initials(u));
	if (!u.avatar_url) return ini;
	const img = h("img", { class: "avatar " + cls, src: u.avatar_url, alt: "", referrerpolicy: "no-referrer" });
	img.addEventListener("error", () => img.replaceWith(ini));
	return img;
}

/* ---- API ---- */
class ApiError extends Error {
	constructor(status, p) {
		super((p && (p.detail || p.title)) || "request failed (HTTP " + status + ")");
		this.status = status;
		this.problem = p || {};
	}
}
async function api(method, path, body, opt = {}) {
	const headers = { Accept: "application/json" };
	if (body !== undefined) headers["Content-Type"] = "application/json";
	if (method !== "GET" && S.csrf) headers["X-CSRF-Token"] = S.csrf;
	Object.assign(headers, opt.headers || {});
	let res;
	try {
		res = await fetch("/api/v0" + path, { method, headers, credentials: "same-origin", cache: "no-store",
			body: body === undefined ? undefined : JSON.stringify(body) });
	} catch (e) {
		throw new ApiError(0, { detail: "Cannot reach acctd; check the connection and try again." });
	}
	if (res.headers.get("X-CSRF-Token")) S.csrf = res.headers.get("X-CSRF-Token");
	let data = null;
	if (res.status !== 204) {
		try { data = await res.json(); } catch (e) { data = null; }
	}
	// another tab signed in again (a new session, a new token): read this
	// session's token with the cookie and try once more
	if (res.status === 403 && method !== "GET" && !opt.retried && data && /X-CSRF-Token/.test(data.detail || "")) {
		const me = await api("GET", "/actor", undefined, { login: true }).catch(() => null);
		if (me) {
			S.user = me;
			S.userAt = Date.now();
			renderWho();
			return api(method, path, body, Object.assign({}, opt, { retried: true }));
		}
	}
	if (res.status === 401 && !opt.login) {
		sessionEnded("Your session ended; sign in again.");
		const e = new ApiError(401, data);
		e.handled = true;
		throw e;
	}
	if (!res.ok) {
		const e = new ApiError(res.status, data);
		e.retryAfter = res.headers.get("Retry-After");
		// one wait, in words: "try again in 2 minutes"
		if (res.status === 429 && res.headers.get("Retry-After")) {
			const w = humanWait(res.headers.get("Retry-After"));
			e.message = /try again in \d+ seconds?/.test(e.message) ? e.message.replace(/try again in \d+ seconds?/, "try again in " + w) : e.message + "; try again in " + w;
		}
		if (res.status === 403 && /^password change required/.test(e.message) && S.user) {
			S.user.must_change_password = true;
			route();
			e.handled = true;
		}
		/* login.require_2fa_for_admins: the enrolment first (web/totp.js) */
		if (res.status === 403 && /^two-factor sign-in required/.test(e.message) && S.user) {
			if (location.hash !== "#/settings/totp") location.hash = "#/settings/totp";
			e.handled = true;
		}
		throw e;
	}
	return data;
}
const U = () => "/user/" + encodeURIComponent(S.user.handle);
/* what web/<part>.js files add (issue 15 C: sessions.js) */
const hooks = { auditTools: [], userMenu: [] };

/* ---- forms and errors ---- */
function capital(s) { return s ? s[0].toUpperCase() + s.slice(1) : s; }
function field(label, input, hint) {
	const id = "f" + ++uid;
	input.id = id;
	const err = h("p", { class: "field-error", id: id + "-e", hidden: true });
	const hint_ = hint ? h("p", { class: "hint", id: id + "-h" }, hint) : null;
	input.setAttribute("aria-describedby", (hint_ ? id + "-h " : "") + id + "-e");
	input._err = err;
	input._label = label;
	return h("div", { class: "field" }, h("label", { for: id }, label), input, hint_, err);
}
function input(name, props) {
	return h("input", Object.assign({ name, type: "text", autocomplete: "off", spellcheck: "false" }, props || {}));
}
function fieldError(inp, msg) {
	inp._err.textContent = msg || "";
	inp._err.hidden = !msg;
	if (msg) inp.setAttribute("aria-invalid", "true");
	else inp.removeAttribute("aria-invalid");
}
function formAlert() { return h("p", { class: "form-error", role: "alert", hidden: true }); }
function clearErrors(form, alert) {
	for (const i of form.querySelectorAll("input,select,textarea")) if (i._err) fieldError(i, "");
	if (alert) { alert.textContent = ""; alert.hidden = true; }
}
/* Show an API error next to what caused it: each validation error by its
 * field, the rest in the form's alert. */
function showError(err, form, alert) {
	if (err.handled) return;
	let placed = false;
	for (const v of err.problem.validation_errors || []) {
		const name = String(v.location || "").replace(/^(body|query)\./, "");
		const inp = form && form.querySelector('[name="' + CSS.escape(name) + '"]');
		if (inp && inp._err) {
			fieldError(inp, inp._label.replace(/ \(optional\)$/, "") + " " + v.message);
			if (!placed) inp.focus();
			placed = true;
		}
	}
	if (!placed && alert) {
		alert.textContent = capital(err.message) + (/[.!?)]$/.test(err.message) ? "" : ".");
		alert.hidden = false;
	}
}
/* run fn with the button busy; errors go to form/alert. The button keeps
 * its focus (a disabled button would drop it to <body>): it is marked
 * aria-disabled and ignores clicks until fn is done. */
async function busy(btn, fn, label) {
	if (btn.getAttribute("aria-busy") === "true") return undefined;
	const text = label ? btn.textContent : null;
	btn.setAttribute("aria-disabled", "true");
	btn.setAttribute("aria-busy", "true");
	if (label) btn.textContent = label;
	try { return await fn(); } finally {
		btn.removeAttribute("aria-disabled");
		btn.removeAttribute("aria-busy");
		if (label) btn.textContent = text;
	}
}
function button(label, props, ic) {
	return h("button", Object.assign({ type: "button", class: "btn" }, props || {}), ic ? icon(ic) : null, label);
}
function iconButton(ic, label, props) {
	return h("button", Object.assign({ type: "button", class: "btn icon-btn", "aria-label": label, title: label }, props || {}), icon(ic));
}

/* ---- dialogs (native <dialog>: modal, Escape closes) ---- */
function dialog(title, ...body) {
	const id = "d" + ++uid;
	const d = h("dialog", { class: "dlg", "aria-labelledby": id }, h("h2", { id }, title), ...body);
	const back = document.activeElement;
	d.addEventListener("close", () => {
		d.remove();
		// focus back where it was, when that is still on the page, else to
		// the page's heading (a redraw may have replaced the button)
		if (document.activeElement === document.body || !document.activeElement)
			(back && back.isConnected ? back : main.querySelector("h1") || main).focus();
	});
	document.body.append(d);
	d.showModal();
	return d;
}
/* A dialog that shows a secret once cannot be dismissed by Escape: only its
 * "I have copied it" button closes it. */
function keepOpen(d) {
	d._keep = true;
	// closing it takes the secret out of the page at once (not a task later)
	d.close = () => { HTMLDialogElement.prototype.close.call(d); d.remove(); };
	d.addEventListener("cancel", (e) => e.preventDefault());
	d.addEventListener("keydown", (e) => { if (e.key === "Escape") e.preventDefault(); });
}
/* A confirmation whose action runs inside it: errors stay in the dialog. */
function confirmAction({ title, text, label, danger, run }) {
	const alert = formAlert();
	const ok = button(label, { class: "btn " + (danger ? "danger" : "primary") });
	const cancel = button("Cancel");
	const d = dialog(title, ...[].concat(text).map((t) => h("p", {}, t)), alert, h("div", { class: "actions" }, cancel, ok));
	cancel.addEventListener("click", () => d.close());
	ok.addEventListener("click", () => busy(ok, async () => {
		try { await run(); if (d.open) d.close(); } catch (e) { if (e.handled) return; showError(e, null, alert); }
	}));
	cancel.focus();
	return d;
}
function closeDialogs() { for (const d of document.querySelectorAll("dialog")) d.close(); }

/* ---- menus: a button that opens a list of actions ---- */
function menu(trigger, items, cls) {
	if (!trigger.id) trigger.id = "m" + ++uid;
	const list = h("div", { class: "menu " + (cls || ""), role: "menu", "aria-labelledby": trigger.id, hidden: true });
	const wrap = h("div", { class: "menu-wrap" }, trigger, list);
	trigger.setAttribute("aria-haspopup", "menu");
	trigger.setAttribute("aria-expanded", "false");
	const outside = (e) => { if (!wrap.contains(e.target)) close(); };
	function close(focus) {
		if (list.hidden) return;
		list.hidden = true;
		trigger.setAttribute("aria-expanded", "false");
		document.removeEventListener("click", outside, true);
		if (focus) trigger.focus();
	}
	function open() {
		list.replaceChildren(...(typeof items === "function" ? items() : items).map((it) => it.head ? h("div", { class: "menu-head", "aria-hidden": "true" }, it.head) : it.href ?
			h("a", { role: "menuitem", href: it.href, class: it.cls, onclick: () => close() }, it.label) :
			h("button", { type: "button", role: "menuitem", class: it.cls, onclick: () => { close(true); it.run(); } }, it.label)));
		list.hidden = false;
		trigger.setAttribute("aria-expanded", "true");
		document.addEventListener("click", outside, true);
		list.querySelector("[role=menuitem]").focus();
	}
	trigger.addEventListener("click", () => (list.hidden ? open() : close(true)));
	// ArrowDown on the closed button opens the menu on its first item (and
	// stops there: the list's own ArrowDown must not move on at once)
	trigger.addEventListener("keydown", (e) => { if (e.key === "ArrowDown" && list.hidden) { e.preventDefault(); e.stopPropagation(); open(); } });
	wrap.addEventListener("keydown", (e) => {
		if (list.hidden) return;
		const all = [...list.querySelectorAll("[role=menuitem]")];
		const i = all.indexOf(document.activeElement);
		if (e.key === "Escape") { e.preventDefault(); e.stopPropagation(); close(true); }
		else if (e.key === "ArrowDown" || e.key === "ArrowUp") {
			e.preventDefault();
			all[(i + (e.key === "ArrowDown" ? 1 : all.length - 1)) % all.length].focus();
		} else if (e.key === "Home" || e.key === "End") { e.preventDefault(); all[e.key === "Home" ? 0 : all.length - 1].focus(); }
		else if (e.key === "Tab") close();
	});
	return wrap;
}

/* ---- secrets: masked text with reveal and copy ---- */
function copyButton(label, getText) {
	const b = iconButton("copy", label);
	const note = h("span", { class: "copy-note", role: "status" });
	b.addEventListener("click", async () => {
		try {
			await navigator.clipboard.writeText(await getText());
			b.replaceChildren(icon("check"));
			note.textContent = "Copied";
			note.classList.remove("bad");
			setTimeout(() => { b.replaceChildren(icon("copy")); note.textContent = ""; }, 2500);
		} catch (e) {
			if (e.handled) return;
			note.textContent = e instanceof ApiError ? capital(e.message) : "Could not copy; reveal it and copy it by hand";
			note.classList.add("bad");
		}
	});
	return [b, note];
}
/* reveal(true|false) → text to show; returns [label, row]. The text is an
 * <output> (labelable, not announced: aria-live off) tied to the visible
 * label; the eye is a toggle whose name stays and whose state is
 * aria-pressed. */
function secretRow(label, what, masked, reveal, copyText) {
	const id = "s" + ++uid;
	const code = h("output", { class: "secret mono", id, "aria-live": "off" }, masked);
	const eye = iconButton("eye", "Show " + what, { "aria-pressed": "false" });
	const err = h("p", { class: "field-error", hidden: true });
	eye.addEventListener("click", () => busy(eye, async () => {
		const on = eye.getAttribute("aria-pressed") !== "true";
		try {
			code.textContent = await reveal(on);
			eye.setAttribute("aria-pressed", String(on));
			eye.title = (on ? "Hide " : "Show ") + what;
			eye.replaceChildren(icon(on ? "eyeoff" : "eye"));
			err.hidden = true;
		} catch (e) { if (!e.handled) { err.textContent = capital(e.message); err.hidden = false; } }
	}));
	const row = h("div", { class: "secret-row" }, code, h("div", { class: "secret-btns" }, eye, copyButton("Copy " + what, copyText)), err);
	row._code = code;
	row._eye = eye;
	return [h("label", { class: "sub", for: id }, label), row];
}

/* ---- session ---- */
function setSession(user, csrf) {
	S.user = user;
	S.userAt = Date.now();
	if (csrf) S.csrf = csrf;
	renderWho();
}
/* the user as loaded moments ago (sign-in, reload): no second fetch */
function freshUser() { return Date.now() - S.userAt < 3000; }
function sessionEnded(msg, home) {
	S.user = null;
	S.csrf = null;
	S.msg = msg;
	hideToast();
	closeDialogs();
	renderWho();
	if (home) history.replaceState(null, "", "#/");
	route();
}
async function signOut() {
	try { await api("POST", "/logout"); } catch (e) { /* ended either way */ }
	sessionEnded("You signed out.", true);
}
function renderWho() {
	who.hidden = !S.user;
	if (!S.user) { who.replaceChildren(); return; }
	const u = S.user;
	const trig = h("button", { type: "button", class: "avatar-btn", "aria-label": "Account menu for " + u.handle }, avatar(u, "av-md"));
	const items = () => [
		{ head: [u.display_name ? h("strong", {}, u.display_name) : null, h("span", {}, "@" + u.handle)] },
		u.must_change_password ? null : { label: "Settings", href: "#/settings/profile" },
		u.role === "admin" && !u.must_change_password ? { label: "Admin", href: "#/admin/users" } : null,
		{ label: "Sign out", run: signOut },
	].filter(Boolean);
	who.replaceChildren(menu(trig, items, "menu-right"));
}

/* ---- sign-in ---- */
function viewSignIn() {
	const alert = formAlert();
	const handle = input("handle", { autocomplete: "username", autocapitalize: "none", required: true, maxlength: 39 });
	const pw = input("password", { type: "password", autocomplete: "current-password", required: true, maxlength: 1024 });
	const submit = h("button", { type: "submit", class: "btn primary wide" }, "Sign in");
	const note = S.msg ? h("p", { class: "notice", role: "status" }, S.msg) : null;
	// the password check takes about a second (key stretching): say so
	const progress = h("p", { class: "hint progress", role: "status" });
	S.msg = null;
	const form = h("form", { class: "card signin", novalidate: true },
		h("img", { src: LOGO, alt: "", width: 48, height: 48, class: "signin-logo" }),
		h("h1", { tabindex: "-1" }, "Sign in to acctd"), note,
		field("Handle", handle), field("Console password", pw), alert, submit, progress);
	form.addEventListener("submit", (ev) => {
		ev.preventDefault();
		clearErrors(form, alert);
		if (!handle.value.trim()) { fieldError(handle, "Enter your handle"); handle.focus(); return; }
		if (!pw.value) { fieldError(pw, "Enter your console password"); pw.focus(); return; }
		progress.textContent = "Checking your password…";
		busy(submit, async () => {
			try {
				const r = await api("POST", "/login", { handle: handle.value.trim(), password: pw.value }, { login: true });
				progress.textContent = "";
				if (r.second_factor) { (await part("totp")).signIn(r.ticket); return; }   /* web/totp.js */
				setSession(r.user, r.csrf_token);
				S.focusTitle = true;
				route();
			} catch (e) {
				progress.textContent = "";
				if (e.status === 401) { fieldError(pw, "Wrong handle or password"); pw.select(); return; }
				if (e.status === 429) {
					alert.textContent = "Too many failed sign-ins. Try again in " + humanWait(e.retryAfter) + ".";
					alert.hidden = false;
					return;
				}
				showError(e, form, alert);
			}
		}, "Signing in…");
	});
	main.replaceChildren(h("div", { class: "signin-wrap" }, form));
	(note ? form.querySelector("h1") : handle).focus();
}

/* ---- first sign-in with a one-time password: a new one before anything ---- */
function viewMustChange() {
	const alert = formAlert();
	const cur = input("current_password", { type: "password", autocomplete: "current-password", maxlength: 1024 });
	const nw = input("new_password", { type: "password", autocomplete: "new-password", maxlength: 1024 });
	const cf = input("confirm_password", { type: "password", autocomplete: "new-password", maxlength: 1024 });
	const save = h("button", { type: "submit", class: "btn primary wide" }, "Set new password");
	const form = h("form", { class: "card signin", novalidate: true },
		h("h1", { id: "page-title", tabindex: "-1" }, "Choose a new console password"),
		h("p", {}, "You signed in with a one-time password. Choose your own before you go on; until then this session can do nothing else."),
		field("One-time password", cur), field("New password", nw, "8 to 1024 characters, not the one-time password."),
		field("Confirm new password", cf), alert, save);
	form.addEventListener("submit", (ev) => {
		ev.preventDefault();
		clearErrors(form, alert);
		if (!cur.value) { fieldError(cur, "Enter the one-time password you signed in with"); cur.focus(); return; }
		if (nw.value.length < 8) { fieldError(nw, "Enter at least 8 characters"); nw.focus(); return; }
		if (nw.value !== cf.value) { fieldError(cf, "The two new passwords do not match"); cf.focus(); return; }
		busy(save, async () => {
			try {
				await api("PUT", U() + "/console_password", { current_password: cur.value, new_password: nw.value });
				setSession(await api("GET", "/actor"));
				S.focusTitle = true;
				toast("Your new console password is set");
				route();
			} catch (e) { showError(e, form, alert); }
		}, "Saving…");
	});
	main.replaceChildren(h("div", { class: "signin-wrap" }, form));
	cur.focus();
}

/* ---- layout ---- */
const SECTIONS = {
	settings: ["Settings", [["profile", "Profile"], ["tokens", "Tokens"], ["audit", "Audit Log"], ["sessions", "Sessions"],
		["advanced", "Advanced"], ["password", "Console password"], ["totp", "Two-factor"]]],
	admin: ["Admin", [["users", "Users"], ["audit", "Appliance audit log"], ["nodes", "Nodes"]]],
};
function layout(area, page, title) {
	const [name, pages] = SECTIONS[area];
	const nav = h("nav", { class: "side", "aria-label": name },
		h("p", { class: "side-title", "aria-hidden": "true" }, name),
		h("ul", {}, pages.map(([p, label]) => h("li", {}, h("a", { href: "#/" + area + "/" + p, "aria-current": p === page ? "page" : null }, label)))));
	const content = h("section", { class: "content", "aria-labelledby": "page-title" }, h("h1", { id: "page-title", tabindex: "-1" }, title));
	main.replaceChildren(h("div", { class: "layout" }, nav, content));
	return content;
}
function card(title, ...kids) {
	const id = "c" + ++uid;
	return h("section", { class: "card", "aria-labelledby": title ? id : null }, title ? h("h2", { id }, title) : null, ...kids);
}
function loadError(where, e) {
	if (e.handled) return;
	where.append(h("p", { class: "form-error", role: "alert" }, "Could not load this: " + e.message));
}
function stale(gen) { return gen !== S.gen; }

/* ---- Settings: Profile ---- */
async function viewProfile(c, gen) {
	const u = S.user;
	const alert = formAlert();
	const dn = input("display_name", { value: u.display_name || "", autocomplete: "name", spellcheck: "true", maxlength: 100 });
	const av = input("avatar_url", { value: u.avatar_url || "", type: "url", inputmode: "url", placeholder: "https://…", maxlength: 2048 });
	const saved = h("span", { class: "ok-note", role: "status" });
	const save = h("button", { type: "submit", class: "btn primary" }, "Save");
	const form = h("form", { novalidate: true }, field("Display Name", dn, "Leave empty for no display name."), field("Avatar URL", av, "An http:// or https:// address of an image; leave empty for initials."), alert, h("div", { class: "actions start" }, save, saved));
	form.addEventListener("submit", (ev) => {
		ev.preventDefault();
		clearErrors(form, alert);
		saved.textContent = "";
		busy(save, async () => {
			try {
				// empty means no display name (null)
				const r = await api("PATCH", U(), { display_name: dn.value.trim() || null, avatar_url: av.value.trim() || null },
					{ headers: { "If-Match": '"' + S.user.version_id + '"' } });
				setSession(r);
				saved.textContent = "Saved";
			} catch (e) {
				if (e.status === 412) { alert.textContent = "Your profile changed elsewhere since this page loaded; reload the page to see the latest and try again."; alert.hidden = false; return; }
				showError(e, form, alert);
			}
		});
	});
	// the form edits what the server has now: refresh it (and its version)
	// unless the user already typed
	let dirty = false;
	form.addEventListener("input", () => { dirty = true; });
	if (!freshUser()) api("GET", U()).then((fresh) => {
		if (stale(gen) || dirty) return;
		setSession(fresh);
		dn.value = fresh.display_name || "";
		av.value = fresh.avatar_url || "";
	}, (e) => showError(e, form, alert));
	const pwInfo = h("p", { class: "meta" }, "Loading…");
	const prop = h("ul", { class: "prop", "aria-label": "Propagation to nodes", hidden: true });
	const rotAlert = formAlert();
	const rotate = button("Rotate Password");
	const wsBox = h("div", { class: "ws-list" }, h("p", { class: "meta" }, "Loading…"));
	c.append(card("Name and avatar", form),
		card("Database Password",
			h("p", {}, "You use one password to connect to every workspace you have access to; it is the password in the connection strings below. Rotating it may take a couple of minutes to reach all of your workspaces. Existing connections are not terminated."),
			pwInfo, prop, rotAlert, h("div", { class: "actions start" }, rotate),
			window.acctdRotation.control(window.acctdPage,   /* web/rotation.js */
				async () => showPw(await api("GET", U() + "/password?reveal=0")))),
		card("Workspaces", wsBox));
	// → true once every node has the password
	const showPw = (p) => {
		const l = p.propagation || [];
		pwInfo.replaceChildren("Version ", h("strong", { class: "pw-version" }, String(p.version)), " · created ", fmtTime(p.created_at),
			...window.acctdRotation.info(p, { h, fmtTime }));   /* web/rotation.js */
		prop.hidden = !l.length;
		prop.replaceChildren(...l.map((n) => h("li", { "data-node": n.node }, h("strong", {}, n.node), ": ",
			h("span", { class: "st-" + n.status }, n.status === "applied" ? (n.state === "disabled" ? "disabled" : "applied") + " (version " + n.applied_version + ")" : n.status === "refused" ? "refused" : "pending"),
			n.status !== "applied" && n.last_error ? h("span", { class: "meta" }, " — " + n.last_error) : null)));
		// a refusal is final until a newer state: stop polling
		return l.every((n) => n.status === "applied" || n.status === "refused");
	};
	let poll = null;
	function watch(until) {
		clearTimeout(poll);
		poll = setTimeout(async () => {
			if (stale(gen) || !S.user) return;
			try {
				const p = await api("GET", U() + "/password?reveal=0");
				if (!stale(gen) && !showPw(p) && Date.now() < until) watch(until);
			} catch (e) { /* stop polling; the next visit shows the state */ }
		}, 1000);
	}
	const rows = {};
	async function loadWs() {
		const [masked, shown] = await Promise.all([api("GET", U() + "/workspace"),
			Object.values(rows).some((r) => r._eye.getAttribute("aria-pressed") === "true") ? api("GET", U() + "/workspace?reveal=1") : null]);
		if (stale(gen)) return;
		if (!masked.items.length) { wsBox.replaceChildren(h("p", { class: "meta" }, "You have no workspaces.")); return; }
		if (Object.keys(rows).length) {
			for (const w of masked.items) {
				const r = rows[w.owner + "/" + w.handle];
				if (!r) continue;
				const open = r._eye.getAttribute("aria-pressed") === "true";
				r._code.textContent = open && shown ? shown.items.find((x) => x.host === w.host).connection_string : w.connection_string;
			}
			return;
		}
		const revealed = async () => {
			const r = await api("GET", U() + "/workspace?reveal=1");
			return r.items;
		};
		wsBox.replaceChildren(...masked.items.map((w) => {
			const get = async () => ((await revealed()).find((x) => x.host === w.host) || {}).connection_string || "";
			const [label, row] = secretRow("Connection string", "connection string for " + w.handle, w.connection_string,
				async (on) => (on ? get() : (await api("GET", U() + "/workspace")).items.find((x) => x.host === w.host).connection_string), get);
			rows[w.owner + "/" + w.handle] = row;
			return h("div", { class: "ws" },
				h("div", { class: "ws-head" }, h("strong", {}, w.handle), h("span", { class: "badge" }, w.role), h("span", { class: "meta" }, w.host)),
				label, row);
		}));
	}
	rotate.addEventListener("click", () => confirmAction({
		title: "Rotate your database password?",
		text: ["A new password replaces the current one in every connection string. It may take a couple of minutes to reach all of your workspaces; existing connections are not terminated."],
		label: "Rotate Password",
		run: async () => {
			const p = await api("POST", U() + "/password");
			if (!showPw(p)) watch(Date.now() + 60000);
			toast("Database password rotated (version " + p.version + ")");
			await loadWs().catch((e) => loadError(wsBox, e));
		},
	}));
	try {
		const p = await api("GET", U() + "/password?reveal=0");
		if (stale(gen)) return;
		showPw(p);
	} catch (e) { pwInfo.textContent = ""; loadError(pwInfo, e); }
	try { await loadWs(); } catch (e) { wsBox.replaceChildren(); loadError(wsBox, e); }
}

/* ---- Settings: Tokens ---- */
async function viewTokens(c, gen) {
	const alert = formAlert();
	const newBtn = button("New Token", { class: "btn primary", "aria-describedby": "limit-note" }, "plus");
	const limitNote = h("p", { class: "hint", id: "limit-note", hidden: true });
	const list = h("div", {}, h("p", { class: "meta" }, "Loading…"));
	c.append(h("p", { class: "intro" }, "Use tokens to call the acctd API or to connect to your workspaces from the command line. You can have up to " + S.tokenLimit + " tokens at a time."),
		h("div", { class: "toolbar" }, newBtn, limitNote), alert, list);
	/* after a redraw, focus goes back to the row it was on (or, when that
	 * row is gone, to the New Token button or the heading): never to <body> */
	async function load(focusRow) {
		const r = await api("GET", U() + "/token");
		if (stale(gen)) return;
		const full = r.items.length >= S.tokenLimit;
		newBtn.disabled = full;
		limitNote.hidden = !full;
		limitNote.textContent = "You can have up to " + S.tokenLimit + " tokens. Delete one to create a new one.";
		// (after a confirmation has closed: a modal dialog keeps focus in itself)
		if (focusRow !== undefined) setTimeout(() => {
			const b = list.querySelector('tr[data-token="' + CSS.escape(focusRow) + '"] [aria-haspopup]');
			(b || (!newBtn.disabled ? newBtn : c.querySelector("h1"))).focus();
		});
		if (!r.items.length) { list.replaceChildren(h("p", { class: "meta empty" }, "You have no tokens yet.")); return; }
		list.replaceChildren(table(["Title", "Token", "Scope", "Status", "Created", "Last used", ""], r.items.map((t) => {
			const name = (t.title ? t.title + " " : "") + "…" + t.last4;
			const act = t.status === "active";
			const trig = iconButton("menu", "Options for token " + name, { class: "btn icon-btn ghost" });
			return [t.title || h("span", { class: "meta" }, "Untitled"), h("code", {}, "spt_…" + t.last4),
				window.acctdScopes.badge({ h }, t), h("span", { class: "status " + t.status }, t.status),
				fmtTime(t.created_at), t.last_used_at ? [fmtTime(t.last_used_at), t.last_used_ip ? h("span", { class: "meta" }, " from " + t.last_used_ip) : null] : "Never",
				menu(trig, [
					{ label: act ? "Deactivate" : "Activate", run: () => change(t, act ? "inactive" : "active") },
					{ label: "Delete", cls: "danger-item", run: () => confirmAction({
						title: "Delete token " + name + "?", danger: true, label: "Delete",
						text: "Anything that uses this token stops working. This cannot be undone.",
						run: async () => { await api("DELETE", U() + "/token/" + t.id); toast("Token …" + t.last4 + " deleted"); await load(""); } }) },
				], "menu-right")];
		}), { cls: "tokens", row: (t, i) => ({ "data-token": r.items[i].last4 }) }));
	}
	async function change(t, status) {
		alert.hidden = true;
		try {
			await api("PATCH", U() + "/token/" + t.id, { status });
			toast("Token …" + t.last4 + (status === "active" ? " activated" : " deactivated"));
			await load(t.last4);
		} catch (e) { showError(e, null, alert); }
	}
	newBtn.addEventListener("click", () => {
		const title = input("title", { maxlength: 100, placeholder: "e.g. laptop CLI" });
		const fAlert = formAlert();
		const scope = window.acctdScopes.field({ h, field });   /* web/scopes.js */
		const create = h("button", { type: "submit", class: "btn primary" }, "Create token");
		const cancel = button("Cancel");
		const form = h("form", { novalidate: true, method: "dialog" }, field("Title (optional)", title), scope.el, fAlert, h("div", { class: "actions" }, cancel, create));
		const d = dialog("New token", form);
		cancel.addEventListener("click", () => d.close());
		form.addEventListener("submit", (ev) => {
			ev.preventDefault();
			clearErrors(form, fAlert);
			busy(create, async () => {
				let t;
				try { t = await api("POST", U() + "/token", Object.assign(title.value.trim() ? { title: title.value.trim() } : {}, { scope: scope.value() })); }
				catch (e) {
					if (e.status === 409) {
						const m = /at most (\d+)/.exec(e.message);
						if (m) S.tokenLimit = +m[1];
					}
					showError(e, form, fAlert);
					return;
				}
				const mask = "spt_" + "•".repeat(20) + t.token.slice(-4);
				const done = button("I have copied it", { class: "btn primary" });
				keepOpen(d);
				form.replaceWith(h("div", { class: "new-token" },
					h("p", { class: "warning" }, icon("warn"), h("span", {}, "Make a secure note of this token; you will not be able to retrieve it again.")),
					secretRow("Your new " + t.scope + " token" + (t.title ? " “" + t.title + "”" : ""), "token", mask, async (on) => (on ? t.token : mask), async () => t.token),
					h("div", { class: "actions" }, done)));
				done.addEventListener("click", () => { d.close(); newBtn.getAttribute("aria-disabled") !== "true" && !newBtn.disabled ? newBtn.focus() : c.querySelector("h1").focus(); });
				d.querySelector(".secret-btns button").focus();
				load().catch((e) => showError(e, null, alert));
			});
		});
		title.focus();
	});
	try { await load(); } catch (e) { list.replaceChildren(); loadError(list, e); }
}

/* rows: arrays of cells; a phone width shows each row as a card (data-label) */
function table(heads, rows, opt = {}) {
	return h("table", { class: "tbl " + (opt.cls || "") },
		h("thead", {}, h("tr", {}, heads.map((x) => h("th", { scope: "col" }, x || h("span", { class: "sr" }, "Actions"))))),
		h("tbody", {}, rows.map((cells, i) => h("tr", opt.row ? opt.row(cells, i) : {},
			cells.map((x, j) => h("td", { "data-label": heads[j] || null }, Array.isArray(x) ? h("span", {}, x) : x))))));
}

/* ---- Audit log (the user's or the appliance's) ---- */
/* a long value (a 2048-character avatar URL) is cut in the table; the
 * whole text is in the cell's tooltip */
function cut(v) {
	v = String(v);
	return v.length > 80 ? v.slice(0, 60) + "…" + v.slice(-12) : v;
}
function details(d, full) {
	if (!d || typeof d !== "object") return "";
	const f = full ? String : cut;
	return Object.entries(d).map(([k, v]) => (v && typeof v === "object" && ("old" in v || "new" in v)) ?
		k + ": " + f(v.old ?? "—") + " → " + f(v.new ?? "—") :
		k + ": " + f(typeof v === "object" ? JSON.stringify(v) : v)).join("; ");
}
const ACTIONS = ["session.login", "session.login_failed", "session.logout", "user.create", "user.update", "user.delete",
	"user.disable", "user.enable", "user.console_password.change", "user.console_password.reset", "user.token_reset",
	"user.password.rotate", "user.password.read", "user.workspace.reveal", "token.create", "token.update", "token.delete",
	"user.totp.enrol", "user.totp.enable", "user.totp.enable_failed", "user.totp.disable", "user.totp.disable_failed", "user.totp.reset", "session.end", "audit.export"];
/* a datetime-local value (local time) as RFC 3339 UTC, or "" */
function utc(v) { const d = v ? new Date(v) : null; return d && !isNaN(d) ? d.toISOString().replace(/\.\d+Z$/, "Z") : ""; }
function auditView(c, gen, path, all) {
	const box = h("div", {}, h("p", { class: "meta" }, "Loading…"));
	const more = button("Load more", { hidden: true });
	const alert = formAlert();
	let tbody = null, next = null, query = "";
	const heads = ["Time", "Action", "Actor", "IP", all ? "Account" : null, "Target", "Details"].filter(Boolean);
	// filters, applied by the server: action, actor, time range
	const fAction = h("select", { name: "action" }, h("option", { value: "" }, "Any action"),
		h("option", { value: "session." }, "Any session.*"), h("option", { value: "user." }, "Any user.*"), h("option", { value: "token." }, "Any token.*"),
		ACTIONS.map((a) => h("option", { value: a }, a)));
	const fActor = input("actor", { maxlength: 39, autocapitalize: "none", placeholder: "handle" });
	const fSince = input("since", { type: "datetime-local", step: 1 });
	const fUntil = input("until", { type: "datetime-local", step: 1 });
	const apply = h("button", { type: "submit", class: "btn" }, "Filter");
	const filters = h("form", { class: "filters", role: "search", "aria-label": "Filter the audit log", novalidate: true },
		field("Action", fAction), field("Actor", fActor), field("From (local time)", fSince), field("To (local time)", fUntil),
		h("div", { class: "filter-go" }, apply));
	const count = h("p", { class: "sr", role: "status" });
	filters.addEventListener("submit", (ev) => {
		ev.preventDefault();
		clearErrors(filters, alert);
		const q = new URLSearchParams();
		if (fAction.value) q.set("action", fAction.value);
		if (fActor.value.trim()) q.set("actor", fActor.value.trim().toLowerCase());
		if (utc(fSince.value)) q.set("since", utc(fSince.value));
		if (utc(fUntil.value)) q.set("until", utc(fUntil.value));
		query = q.toString() ? "&" + q.toString() : "";
		next = null;
		tbody = null;
		busy(apply, () => load().catch((e) => { box.replaceChildren(); showError(e, filters, alert); }));
	});
	async function load() {
		const r = await api("GET", path + "?limit=20" + query + (next ? "&next_token=" + encodeURIComponent(next) : ""));
		if (stale(gen)) return;
		next = r.next_token || null;
		more.hidden = !next;
		const rows = r.items.map((a) => [fmtTime(a.created_at), h("code", {}, a.action_type.split(".").map((x, i) => (i ? [h("wbr"), "." + x] : x))),
			a.actor_handle ? h("span", { title: a.actor_display_name || null }, a.actor_handle) : h("span", { class: "meta" }, "—"),
			a.actor_ip ? h("span", { class: "ip" }, a.actor_ip) : "—", all ? a.identity_handle || "—" : null, a.target_handle || "—",
			h("span", { class: "details", title: details(a.data, true) !== details(a.data) ? details(a.data, true) : null }, details(a.data) || "—")].filter((x) => x !== null));
		if (!tbody) {
			count.textContent = rows.length ? "" : "No records";
			if (!rows.length) { box.replaceChildren(h("p", { class: "meta empty" }, query ? (next ? "No matching records in this stretch of the log; load more to look further back." : "No records match these filters.") : "No activity yet.")); return; }
			const t = table(heads, rows, { cls: "audit" });
			tbody = t.tBodies[0];
			box.replaceChildren(t);
		} else tbody.append(...table(heads, rows).tBodies[0].children);
	}
	more.addEventListener("click", () => busy(more, () => {
		// keep going where the last page ended: focus moves to its first new row
		const had = tbody ? tbody.rows.length : 0;
		return load().then(() => {
			const first = tbody && tbody.rows[had];
			if (first) { first.tabIndex = -1; first.focus(); } else if (more.hidden) c.querySelector("h1").focus();
		}).catch((e) => showError(e, null, alert));
	}));
	c.append(filters, ...hooks.auditTools.map((f) => f(path, () => query)), count, box, alert, h("div", { class: "actions start" }, more));
	return load().catch((e) => { box.replaceChildren(); loadError(box, e); });
}
function viewAudit(c, gen) {
	c.append(h("p", { class: "intro" }, "Activity on your account, newest first."));
	return auditView(c, gen, U() + "/audit", false);
}

/* ---- Settings: Advanced ---- */
const HANDLE_RE = /^[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){0,38}$/;
async function viewAdvanced(c, gen) {
	const u = S.user;
	const alert = formAlert();
	const hd = input("handle", { value: u.handle, autocapitalize: "none", maxlength: 39 });
	const preview = h("div", { class: "dns-preview", "aria-live": "polite" });
	const save = h("button", { type: "submit", class: "btn primary" }, "Save");
	const form = h("form", { novalidate: true },
		h("p", { class: "warning" }, icon("warn"), h("span", {}, "Your workspace DNS names all contain your handle: changing it changes the DNS name of ALL of your workspaces.")),
		field("Handle", hd, "1 to 39 lowercase letters, digits or single inner hyphens."), preview, alert, h("div", { class: "actions start" }, save));
	let ws = null;
	function renderPreview() {
		const nh = hd.value.trim().toLowerCase();
		if (!ws || !nh || nh === S.user.handle || !HANDLE_RE.test(nh)) { preview.replaceChildren(); return; }
		const own = ws.filter((w) => w.owner === S.user.handle);
		preview.replaceChildren(h("p", { class: "sub" }, own.length ? "After saving, your workspace DNS names change:" : "You own no workspaces, so no DNS name changes."),
			own.length ? h("ul", { class: "dns" }, own.map((w) => {
				const dom = w.host.slice((w.owner + "-" + w.handle + ".").length);
				return h("li", {}, h("code", { class: "old" }, w.host), h("span", { class: "arrow", "aria-hidden": "true" }, " → "), h("span", { class: "sr" }, " becomes "), h("code", { class: "new" }, nh + "-" + w.handle + "." + dom));
			})) : null);
	}
	hd.addEventListener("input", () => { fieldError(hd, ""); renderPreview(); });
	form.addEventListener("submit", (ev) => {
		ev.preventDefault();
		clearErrors(form, alert);
		const nh = hd.value.trim().toLowerCase();
		if (nh === S.user.handle) { fieldError(hd, "Enter a new handle"); hd.focus(); return; }
		busy(save, async () => {
			try {
				const r = await api("PATCH", U(), { handle: hd.value.trim() }, { headers: { "If-Match": '"' + S.user.version_id + '"' } });
				setSession(r);
				hd.value = r.handle;
				toast("Your handle is now " + r.handle);
				ws = (await api("GET", U() + "/workspace")).items;
				renderPreview();
			} catch (e) {
				if (e.status === 412) { alert.textContent = "Your profile changed elsewhere since this page loaded; reload the page and try again."; alert.hidden = false; return; }
				showError(e, form, alert);
			}
		});
	});
	const revoke = button("Revoke tokens", { class: "btn danger-outline" });
	revoke.addEventListener("click", () => confirmAction({
		title: "Revoke every token?", danger: true, label: "Revoke tokens",
		text: ["Every API token and every session issued before now stops working, including this session: you will be signed out."],
		run: async () => { await api("POST", U() + "/token_reset"); sessionEnded("Every token and session was revoked; sign in again.", true); },
	}));
	const del = button("Delete Personal Account", { class: "btn danger" });
	del.addEventListener("click", () => {
		const handle = S.user.handle;
		const conf = input("confirm", { autocapitalize: "none", maxlength: 39 });
		const dAlert = formAlert();
		const go = h("button", { type: "submit", class: "btn danger", disabled: true }, "Delete");
		const cancel = button("Cancel");
		// a form: Enter in the field deletes, once the handle is typed
		const form = h("form", { novalidate: true }, field("Type your handle, " + handle + ", to confirm", conf), dAlert, h("div", { class: "actions" }, cancel, go));
		const d = dialog("Delete your account?",
			h("p", {}, "This permanently removes your personal account, its tokens, database password and workspace access. It cannot be undone."), form);
		conf.addEventListener("input", () => { go.disabled = conf.value.trim() !== handle; });
		cancel.addEventListener("click", () => d.close());
		form.addEventListener("submit", (ev) => {
			ev.preventDefault();
			if (conf.value.trim() !== handle) { fieldError(conf, "Type " + handle + " to confirm"); return; }
			busy(go, async () => {
				try {
					await api("DELETE", U() + "?confirm=" + encodeURIComponent(conf.value.trim()));
					sessionEnded("Your account " + handle + " was deleted.", true);
				} catch (e) { showError(e, null, dAlert); }
			});
		});
		conf.focus();
	});
	c.append(card("Change handle", form),
		card("Revoke tokens", h("p", {}, "Revoke all of your API tokens and sign out every session, this one included. Use this if a token may have leaked."), h("div", { class: "actions start" }, revoke)),
		card("Delete Personal Account", h("p", {}, "Permanently remove your personal account and all of its contents. This action is not reversible, so please continue with caution."), h("div", { class: "actions start" }, del)));
	c.lastChild.classList.add("danger-zone");
	try {
		if (!freshUser()) {
			const fresh = await api("GET", U());
			if (stale(gen)) return;
			setSession(fresh);
		}
		ws = (await api("GET", U() + "/workspace")).items;
		if (!stale(gen)) renderPreview();
	}
	catch (e) { loadError(preview, e); }
}

/* ---- Settings: Console password ---- */
function viewPassword(c) {
	const alert = formAlert();
	const cur = input("current_password", { type: "password", autocomplete: "current-password", maxlength: 1024 });
	const nw = input("new_password", { type: "password", autocomplete: "new-password", maxlength: 1024 });
	const cf = input("confirm_password", { type: "password", autocomplete: "new-password", maxlength: 1024 });
	const done = h("span", { class: "ok-note", role: "status" });
	const save = h("button", { type: "submit", class: "btn primary" }, "Change password");
	const form = h("form", { novalidate: true }, field("Current password", cur), field("New password", nw, "8 to 1024 characters."),
		field("Confirm new password", cf), alert, h("div", { class: "actions start" }, save, done));
	form.addEventListener("submit", (ev) => {
		ev.preventDefault();
		clearErrors(form, alert);
		done.textContent = "";
		if (!cur.value) { fieldError(cur, "Enter your current password"); cur.focus(); return; }
		if (nw.value !== cf.value) { fieldError(cf, "The two new passwords do not match"); cf.focus(); return; }
		busy(save, async () => {
			try {
				await api("PUT", U() + "/console_password", { current_password: cur.value, new_password: nw.value });
				form.reset();
				setSession(await api("GET", U()));
				done.textContent = "Your console password was changed; your other sessions were signed out.";
			} catch (e) { showError(e, form, alert); }
		});
	});
	c.append(card(null, h("p", {}, "This is the password you sign in to this page with. It is not your database password."), form));
}

/* ---- Admin: appliance audit log ---- */
function viewAdminAudit(c, gen) {
	const verify = button("Verify chain");
	const res = h("p", { class: "verify", role: "status" });
	verify.addEventListener("click", () => busy(verify, async () => {
		res.className = "verify";
		try {
			const r = await api("GET", "/admin/audit/verify");
			if (r.ok) { res.textContent = "Chain intact: all " + r.records + " records verified."; res.classList.add("good"); }
			else { res.textContent = "Chain broken at record #" + r.first_broken + ": " + r.reason + " (" + r.records + " records checked)."; res.classList.add("bad"); }
		} catch (e) { if (!e.handled) { res.textContent = "Could not verify: " + e.message; res.classList.add("bad"); } }
	}));
	c.append(h("p", { class: "intro" }, "Every account's activity on this appliance, newest first. Each record carries the hash of the one before, so a removed or edited record is detected."),
		h("div", { class: "toolbar" }, verify, res));
	return auditView(c, gen, "/admin/audit", true);
}

/* ---- router ---- */
const ROUTES = {
	"settings/profile": ["Profile", viewProfile, ["rotation"]], "settings/tokens": ["Tokens", viewTokens, ["scopes"]],
	"settings/audit": ["Audit Log", viewAudit, ["sessions"]], "settings/advanced": ["Advanced", viewAdvanced],
	"settings/password": ["Console password", viewPassword],
	"settings/totp": ["Two-factor sign-in", (c, gen) => part("totp").then((m) => m.view(c, gen), (e) => loadError(c, e))],
	"settings/sessions": ["Sessions", (c, gen) => window.acctdParts.sessions.view(c, gen), ["sessions"]],
	"admin/users": ["Users", (c, gen) => window.acctdParts.admin.users(c, gen), ["admin", "sessions"]],
	"admin/audit": ["Appliance audit log", viewAdminAudit, ["sessions"]],
	"admin/nodes": ["Nodes", (c, gen) => window.acctdParts.admin.nodes(c, gen), ["admin"]],
};
let lastRoute = null;
function route() {
	const gen = ++S.gen;
	hideToast();
	if (!S.user) { document.title = "Sign in · acctd"; lastRoute = null; viewSignIn(); return; }
	if (S.user.must_change_password) { document.title = "New password · acctd"; lastRoute = null; viewMustChange(); return; }
	let r = location.hash.replace(/^#\/?/, "");
	if (!ROUTES[r] || (r.startsWith("admin/") && S.user.role !== "admin")) {
		r = "settings/profile";
		history.replaceState(null, "", "#/" + r);
	}
	// a page built with parts (web/<name>.js) is drawn once they are here;
	// meanwhile the page it replaces says it is loading
	const missing = (ROUTES[r][2] || []).filter((n) => !loaded.has(n));
	if (!missing.length) return show(r, gen);
	const cur = main.querySelector(".content");
	if (cur) cur.replaceChildren(h("p", { class: "meta" }, "Loading…"));
	Promise.all(missing.map(part)).then(() => stale(gen) || show(r, gen), (e) => stale(gen) || show(r, gen, e));
}
function show(r, gen, err) {
	const [title, view] = ROUTES[r];
	document.title = title + " · acctd";
	const c = layout(r.split("/")[0], r.split("/")[1], title);
	if ((lastRoute && lastRoute !== r) || S.focusTitle) c.querySelector("h1").focus();
	S.focusTitle = false;
	lastRoute = r;
	if (err) loadError(c, err);
	else view(c, gen);
}
/* A part's page code (web/<name>.js: window.acctdParts[name]), loaded when
 * first needed so that the cold page stays light; it reads the helpers
 * below (window.acctdPage) once, at its load. */
const parts = {}, loaded = new Set();
/* their content-hashed names (cached for good), from index.html's
 * <script src="…/app.js" data-NAME="…/NAME.js"> */
const PARTS = THIS_SCRIPT.dataset;
function part(name) {
	if (!parts[name]) parts[name] = new Promise((resolve, reject) => {
		const s = h("script", { src: PARTS[name] || "/assets/" + name + ".js" });
		s.addEventListener("load", () => { loaded.add(name); resolve(window.acctdParts[name]); });
		s.addEventListener("error", () => {
			delete parts[name];
			s.remove();
			reject(new ApiError(0, { detail: "Cannot load this part of the page; check the connection and try again." }));
		});
		document.head.append(s);
	});
	return parts[name];
}
window.acctdParts = {};
/* what the parts' scripts (web/<part>.js) use of this file */
window.acctdPage = { h, api, field, input, fieldError, formAlert, clearErrors, showError, busy, button, iconButton, menu, icon, capital,
	card, copyButton, toast, setSession, route, dialog, keepOpen, loadError, stale, part, S, U, main, LOGO,
	table, confirmAction, fmtTime, ROUTES, SECTIONS, hooks, ACTIONS };
window.addEventListener("hashchange", route);
document.addEventListener("keydown", (e) => {
	if (e.key === "Escape") for (const m of document.querySelectorAll(".menu:not([hidden])")) m.closest(".menu-wrap").querySelector("[aria-haspopup]").click();
});
/* the skip link moves focus to the page's heading itself: through the hash
 * router it would navigate */
document.querySelector(".skip").addEventListener("click", (e) => {
	e.preventDefault();
	const t = main.querySelector("h1[tabindex]") || main;
	t.focus();
});
/* one request tells whether this browser is signed in, who it is, and
 * (with the cookie alone: a second tab) the session's CSRF token */
(async () => {
	try { setSession(await api("GET", "/actor", undefined, { login: true })); }
	catch (e) {
		if (e.status !== 401) S.msg = "Cannot load your account: " + e.message;
		S.user = null;
	}
	route();
})();
})();
