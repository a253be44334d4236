/* acctd admin page, issue 15 part D: scheduled rotation of the database
 * password. The "next rotation due …" line of the Database Password card:
 * app.js calls window.acctdRotation.info(p, helpers) with the password
 * object (GET …/password) each time it shows it, and appends the pieces
 * returned after "Version N · created …". */
"use strict";
(() => {
window.acctdRotation = {
	info(p, { h, fmtTime }) {
		if (!p.dbpass_next_rotation_at)
			return [h("span", { class: "rot-due" }, " · no scheduled rotation")];
		return [h("span", { class: "rot-due" }, " · next rotation due ", fmtTime(p.dbpass_next_rotation_at))];
	},
};
})();
