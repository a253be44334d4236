/* Issue 15 part C on the admin page: Settings → Sessions (where you are
 * signed in; end any of them), an admin's view of a user's sessions (the
 * Users page's row menu), and the audit logs' Export buttons (JSON lines or
 * CSV of what the current filters show). Built on app.js's helpers
 * (window.acctdPage); loaded after it. */
"use strict";
(() => {
const P = window.acctdPage;
if (!P) return;
const { h, api, table, button, confirmAction, toast, fmtTime, stale, loadError, dialog, S } = P;
const enc = encodeURIComponent;

/* a user's sessions as a table; end(s) ends one */
function sessionsTable(items, end) {
	return table(["Browser", "Address", "Signed in", "Last seen", ""], items.map((s) => [
		[h("strong", { title: s.user_agent || null }, s.browser), s.current ? h("span", { class: "badge this-session" }, "This session") : null],
		s.address || "—", fmtTime(s.created), fmtTime(s.last_seen),
		button("End", { class: "btn danger-outline", "aria-label": "End session: " + s.browser + (s.current ? " (this session)" : ""), onclick: () => end(s) }),
	]), { cls: "sessions", row: (x, i) => ({ "data-session": items[i].id }) });
}

/* load and draw handle's sessions into box; self: the signed-in user's own */
async function drawSessions(box, handle, self, gen) {
	const path = "/user/" + enc(handle) + "/session";
	const r = await api("GET", path);
	if (gen !== undefined && stale(gen)) return;
	if (!r.items.length) { box.replaceChildren(h("p", { class: "meta empty" }, "No active sessions.")); return; }
	box.replaceChildren(sessionsTable(r.items, (s) => confirmAction({
		title: s.current ? "End this session?" : "End this session of " + (self ? "yours" : handle) + "?",
		danger: true, label: "End session",
		text: s.current ? "You are signed out of this browser." :
			s.browser + (s.address ? " at " + s.address : "") + " is signed out at once.",
		run: async () => {
			await api("DELETE", path + "/" + s.id);
			toast("Session ended");
			if (!s.current) await drawSessions(box, handle, self);
		} })));
}

function viewSessions(c, gen) {
	const box = h("div", {}, h("p", { class: "meta" }, "Loading…"));
	c.append(h("p", { class: "intro" }, "Where you are signed in to this console. End a session you do not recognise, then change your console password."), box);
	return drawSessions(box, S.user.handle, true, gen).catch((e) => { box.replaceChildren(); loadError(box, e); });
}

/* Settings → Sessions (app.js's route, nav entry and audit action names) */
window.acctdParts.sessions = { view: viewSessions };

/* the Users page: a user's sessions in a dialog */
P.hooks.userMenu.push((u) => ({ label: "Sessions", run: () => {
	const box = h("div", { class: "sessions-box" }, h("p", { class: "meta" }, "Loading…"));
	const close = button("Close");
	const d = dialog("Sessions of " + u.handle, box, h("div", { class: "actions" }, close));
	close.addEventListener("click", () => d.close());
	drawSessions(box, u.handle, u.id === S.user.id).catch((e) => { box.replaceChildren(); loadError(box, e); });
	close.focus();
} }));

/* the audit logs: Export links carrying the filters that are applied */
P.hooks.auditTools.push((path, query) => {
	const link = (fmt, label) => {
		const a = h("a", { class: "btn", href: "/api/v0" + path + "/export?format=" + fmt, download: "" }, label);
		a.addEventListener("click", () => { a.href = "/api/v0" + path + "/export?format=" + fmt + query(); });
		return a;
	};
	return h("div", { class: "toolbar export", role: "group", "aria-label": "Export the audit log" },
		h("span", { class: "meta" }, "Export what the filters show:"), link("jsonl", "Export JSONL"), link("csv", "Export CSV"));
});
})();
