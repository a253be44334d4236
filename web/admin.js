/* acctd admin page: the administrator's Users and Nodes pages, loaded
 * only when an administrator opens one (app.js part("admin")), so the
 * sign-in page and a user's own pages stay light. Built on app.js's
 * helpers (window.acctdPage). */
"use strict";
(() => {
const { h, api, button, iconButton, input, field, formAlert, clearErrors, showError, busy, table, menu, fmtTime,
	confirmAction, dialog, keepOpen, copyButton, icon, capital, toast, stale, loadError, S, hooks } = window.acctdPage;
let onceId = 0;

/* ---- Admin: users ---- */
/* A password shown once: only "I have copied it" closes the dialog. */
function showOnce(title, text, secretLabel, secret, after) {
	const done = button("I have copied it", { class: "btn primary" });
	const id = "once" + ++onceId;
	const d = dialog(title, h("p", {}, text),
		h("p", { class: "warning" }, icon("warn"), h("span", {}, "This password is shown only once. Pass it on securely; it must be changed at the first sign-in.")),
		h("label", { class: "sub", for: id }, capital(secretLabel)),
		h("div", { class: "secret-row" }, h("output", { class: "secret mono once", id, "aria-live": "off" }, secret), h("div", { class: "secret-btns" }, copyButton("Copy " + secretLabel, async () => secret))),
		h("div", { class: "actions" }, done));
	keepOpen(d);
	done.addEventListener("click", () => { d.close(); if (after) after(); });
	d.querySelector(".secret-btns button").focus();
}
async function viewUsers(c, gen) {
	const alert = formAlert();
	const create = button("Create user", { class: "btn primary" }, "plus");
	const box = h("div", {}, h("p", { class: "meta" }, "Loading…"));
	const more = button("Load more", { hidden: true });
	// search by handle or e-mail, on the server
	const q = input("q", { type: "search", maxlength: 254, autocapitalize: "none", placeholder: "handle or e-mail" });
	const search = h("form", { role: "search", class: "search", "aria-label": "Users", novalidate: true }, field("Search users", q));
	const total = h("p", { class: "meta total", role: "status" });
	let next = null, tbody = null, shown = 0, timer = null;
	c.append(h("div", { class: "toolbar" }, create, search, total), alert, box, h("div", { class: "actions start" }, more));
	const heads = ["Handle", "Name", "Email", "Role", "Status", "Created", ""];
	function row(u) {
		const trig = iconButton("menu", "Options for " + u.handle, { class: "btn icon-btn ghost" });
		const self = u.id === S.user.id;
		const tr = table(heads, [[h("strong", { class: "handle" }, u.handle), u.display_name ? h("span", { class: "cut" }, u.display_name) : "—", h("span", { class: "email" }, u.email), u.role,
			[h("span", { class: "status " + (u.status === "active" ? "active" : "inactive") }, u.status),
				u.must_change_password ? h("span", { class: "badge" }, "new password due") : null], fmtTime(u.created_at),
			menu(trig, () => [
				// your own account is not disabled from here (the API refuses it too)
				self ? null : u.status === "active" ? { label: "Disable", run: () => confirmAction({
					title: "Disable " + u.handle + "?", danger: true, label: "Disable",
					text: [u.handle + " can no longer sign in, their sessions end and their database LOGIN is taken away on every node. Their tokens stop working until they are enabled again."],
					run: () => act(u, "disable") }) } : { label: "Enable", run: () => act(u, "enable") },
				{ label: "Reset console password", run: () => confirmAction({
					title: "Reset " + u.handle + "’s console password?", label: "Reset password",
					text: "A new password is generated and shown once; " + u.handle + "’s sessions end.",
					run: async () => {
						const r = await api("POST", "/admin/user/" + encodeURIComponent(u.handle) + "/console_password_reset");
						redraw(r.user);
						setTimeout(() => showOnce("New console password", "The console password of " + u.handle + " was reset.", "new console password", r.initial_password, () => focusRow(u.handle)));
					} }) },
				...hooks.userMenu.map((f) => f(u)),
			].filter(Boolean), "menu-right")]], { row: () => ({ "data-user": u.handle }) }).tBodies[0].firstChild;
		return tr;
	}
	function focusRow(handle) {
		const b = box.querySelector('[data-user="' + CSS.escape(handle) + '"] [aria-haspopup]');
		(b || c.querySelector("h1")).focus();
	}
	function redraw(u) {
		const old = box.querySelector('[data-user="' + CSS.escape(u.handle) + '"]');
		if (old) old.replaceWith(row(u));
	}
	// the row is redrawn and focus goes back to its options button
	async function act(u, what) {
		alert.hidden = true;
		try {
			const r = await api("POST", "/admin/user/" + encodeURIComponent(u.handle) + "/" + what);
			redraw(r);
			setTimeout(() => focusRow(u.handle));   /* once a confirmation has closed */
			toast(u.handle + (what === "disable" ? " disabled" : " enabled"));
		} catch (e) {
			if (what === "disable") throw e;   /* shown in the confirmation */
			showError(e, null, alert);
		}
	}
	async function load(reset) {
		if (reset) { next = null; tbody = null; shown = 0; }
		const term = q.value.trim();
		const r = await api("GET", "/admin/user?limit=25" + (term ? "&q=" + encodeURIComponent(term) : "") + (next ? "&next_token=" + encodeURIComponent(next) : ""));
		if (stale(gen)) return;
		next = r.next_token || null;
		more.hidden = !next;
		shown += r.items.length;
		total.textContent = term ? shown + (next ? "+" : "") + " matching “" + term + "” of " + r.total + " users" : r.total + (r.total === 1 ? " user" : " users");
		if (!tbody) {
			if (!r.items.length) { box.replaceChildren(h("p", { class: "meta empty" }, term ? "No user matches “" + term + "”." : "No users.")); tbody = null; return; }
			const t = table(heads, [], { cls: "users" });
			tbody = t.tBodies[0];
			box.replaceChildren(t);
		}
		tbody.append(...r.items.map(row));
	}
	search.addEventListener("submit", (ev) => { ev.preventDefault(); clearTimeout(timer); load(true).catch((e) => showError(e, search, alert)); });
	q.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(() => load(true).catch((e) => showError(e, search, alert)), 250); });
	more.addEventListener("click", () => busy(more, () => {
		const had = tbody ? tbody.rows.length : 0;
		return load().then(() => {
			const first = tbody && tbody.rows[had];
			if (first) { first.tabIndex = -1; first.focus(); }
		}).catch((e) => showError(e, null, alert));
	}));
	create.addEventListener("click", () => {
		const fAlert = formAlert();
		const hd = input("handle", { autocapitalize: "none", maxlength: 39 });
		const em = input("email", { type: "email", autocomplete: "off", maxlength: 254 });
		const dn = input("display_name", { maxlength: 100 });
		const role = h("select", { name: "role" }, h("option", { value: "user" }, "User"), h("option", { value: "admin" }, "Administrator"));
		const ok = h("button", { type: "submit", class: "btn primary" }, "Create user");
		const cancel = button("Cancel");
		const form = h("form", { novalidate: true }, field("Handle", hd), field("Email", em), field("Display name (optional)", dn),
			field("Role", role), fAlert, h("div", { class: "actions" }, cancel, ok));
		const d = dialog("Create user", h("p", {}, "A random initial console password is generated and shown once."), form);
		cancel.addEventListener("click", () => d.close());
		form.addEventListener("submit", (ev) => {
			ev.preventDefault();
			clearErrors(form, fAlert);
			busy(ok, async () => {
				const body = { handle: hd.value.trim(), email: em.value.trim(), role: role.value };
				if (dn.value.trim()) body.display_name = dn.value.trim();
				try {
					const r = await api("POST", "/admin/user", body);
					d.close();
					showOnce("User created", "User " + r.handle + " was created. Their initial console password:", "initial password", r.initial_password, () => focusRow(r.handle));
					await load(true);
				} catch (e) { showError(e, form, fAlert); }
			});
		});
		hd.focus();
	});
	try { await load(true); } catch (e) { box.replaceChildren(); loadError(box, e); }
}

/* ---- Admin: nodes (password push) ---- */
async function viewNodes(c, gen) {
	const refresh = button("Refresh");
	const box = h("div", {}, h("p", { class: "meta" }, "Loading…"));
	c.append(h("p", { class: "intro" }, "The database nodes acctd pushes passwords and roles to, and how far each one is behind."),
		h("div", { class: "toolbar" }, refresh), box);
	async function load() {
		try {
			const r = await api("GET", "/admin/nodes");
			if (stale(gen)) return;
			box.replaceChildren(r.items.length ? table(["Name", "URL", "Status", "Pending", "Last error", "Last success"], r.items.map((n) => [
				h("strong", {}, n.name), h("code", {}, n.url), h("span", { class: "status " + n.status }, n.status), String(n.pending),
				n.last_error ? h("span", { class: "details" }, n.last_error) : "—", fmtTime(n.last_success)]),
			{ cls: "nodes", row: (x, i) => ({ "data-node": r.items[i].name }) }) : h("p", { class: "meta empty" }, "No nodes are configured."));
		} catch (e) { box.replaceChildren(); loadError(box, e); }
	}
	refresh.addEventListener("click", () => busy(refresh, load));
	await load();
}

window.acctdParts.admin = { users: viewUsers, nodes: viewNodes };
})();
