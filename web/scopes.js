/* Token scopes (issue 15, part A): the scope chooser of the New token
 * dialog and the scope shown in the token list. app.js keeps its helpers
 * inside its closure, so it hands the two this file needs (h, field) to
 * each call. */
"use strict";
(() => {
const SCOPES = [
	["full", "Full access", "Everything you can do on this page, through the API."],
	["read", "Read only", "GET requests only: it can read, never change anything."],
	["connect", "Connect", "Only lists your workspaces and their connection strings: enough for acctd-cli psql."],
];

window.acctdScopes = {
	/* the chooser: a select with a hint that follows the choice; value() the scope */
	field({ h, field }) {
		const sel = h("select", { name: "scope" }, SCOPES.map(([v, label]) => h("option", { value: v }, label)));
		const el = field("Scope", sel, SCOPES[0][2]);
		const hint = el.querySelector(".hint");
		sel.addEventListener("change", () => { hint.textContent = SCOPES.find((s) => s[0] === sel.value)[2]; });
		return { el, value: () => sel.value };
	},
	/* a token's scope in the list (records from before scopes are "full") */
	badge({ h }, t) {
		const s = SCOPES.find((x) => x[0] === (t.scope || "full")) || SCOPES[0];
		return h("span", { class: "scope scope-" + s[0], title: s[2] }, s[1]);
	},
};
})();
