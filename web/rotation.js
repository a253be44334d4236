/* Scheduled rotation of the database password (issue 15, part D): the
 * "next rotation due" line of the Database Password card. app.js calls
 * rotationInfo(p) with the password object (GET …/password) each time it
 * shows it. */
"use strict";

/* → the pieces to append after "Version N · created …" */
function rotationInfo(p) {
	if (!p.dbpass_next_rotation_at)
		return [h("span", { class: "rot-due" }, " · no scheduled rotation")];
	const late = new Date(p.dbpass_next_rotation_at) <= new Date();
	return [h("span", { class: "rot-due" + (late ? " rot-late" : "") },
		" · next rotation due ", fmtTime(p.dbpass_next_rotation_at))];
}
