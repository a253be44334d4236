/* acctd admin page, issue 15 part D: scheduled rotation of the database
 * password. The "next rotation due …" line of the Database Password card:
 * app.js calls window.acctdRotation.info(p, helpers) with the password
 * object (GET …/password) each time it shows it, and appends the pieces
 * returned after "Version N · created …"; and the card's schedule form
 * (control): the user's own period, PATCH …/user/{handle}
 * {dbpass_rotate_every_days}, 0 = the appliance's policy. */
"use strict";
(() => {
window.acctdRotation = {
	info(p, { h, fmtTime }) {
		if (!p.dbpass_next_rotation_at)
			return [h("span", { class: "rot-due" }, " · no scheduled rotation")];
		return [h("span", { class: "rot-due" }, " · next rotation due ", fmtTime(p.dbpass_next_rotation_at))];
	},
	/* the form; refresh() shows the password (and its due date) again */
	control(P, refresh) {
		const { h, api, U, S, field, input, formAlert, clearErrors, showError, busy, setSession } = P;
		const days = input("dbpass_rotate_every_days", { type: "number", min: "0", max: "3650", inputmode: "numeric",
			value: String(S.user.dbpass_rotate_every_days || 0) });
		const alert = formAlert();
		const saved = h("span", { class: "ok-note", role: "status" });
		const save = h("button", { type: "submit", class: "btn" }, "Update schedule");
		const form = h("form", { novalidate: true, class: "rot-form" },
			field("Rotate automatically every (days)", days,
				"0 follows the appliance's policy; with a policy set, at most the policy's period."),
			alert, h("div", { class: "actions start" }, save, saved));
		form.addEventListener("submit", (ev) => {
			ev.preventDefault();
			clearErrors(form, alert);
			saved.textContent = "";
			const n = Number(days.value);
			if (days.value.trim() === "" || !Number.isInteger(n) || n < 0 || n > 3650) {
				P.fieldError(days, "Rotate automatically every (days) must be a whole number from 0 to 3650");
				days.focus();
				return;
			}
			busy(save, async () => {
				try {
					const r = await api("PATCH", U(), { dbpass_rotate_every_days: n },
						{ headers: { "If-Match": '"' + S.user.version_id + '"' } });
					setSession(r);
					saved.textContent = "Saved";
					await refresh();
				} catch (e) {
					showError(e, form, alert);
				}
			});
		});
		return form;
	},
};
})();
