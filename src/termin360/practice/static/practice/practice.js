/*
 * termin360 practice calendar: dialogs, patient search, drag & drop and keyboard
 * navigation on the day and week pages.
 *
 * The page is rendered by the server; this script only talks to the JSON API
 * (/api/v1/, session cookie + CSRF header) and reloads the page after every
 * change, so that what is shown is always the server's truth.
 *
 * Live view (C8, decision 014): about once a second the page asks for the version of
 * its days (GET /api/v1/calendars/N/version, one indexed query); when it changed, the
 * page fetches itself again and swaps in the grid, the additional list and the
 * reservation list. Dialogs are not part of what is swapped, so what is typed in them
 * stays; during a drag the swap waits until the drag ends. A new online booking raises
 * a notice and a count in the tab title until it is seen.
 */
(function () {
  "use strict";

  // The grid's lane count and row heights come as data attributes, because the
  // Content-Security-Policy forbids inline style attributes (decision 016); the stylesheet
  // reads them as the custom properties --lanes and --minutes.
  function sizeGrid(root) {
    root.querySelectorAll("table.grid[data-lanes]").forEach((table) => {
      table.style.setProperty("--lanes", table.dataset.lanes);
    });
    root.querySelectorAll("tr.grid__row[data-minutes]").forEach((row) => {
      row.style.setProperty("--minutes", row.dataset.minutes);
    });
  }
  sizeGrid(document);

  const configElement = document.getElementById("page-config");
  if (!configElement) return;
  const config = JSON.parse(configElement.textContent);
  const t = config.messages;
  const csrfToken = document.querySelector('meta[name="csrf-token"]').content;
  const FOCUS_KEY = "termin360-focus";
  // Every request ends by this deadline: a stalled server shows an error (or the next poll
  // tries again) instead of leaving the page waiting for ever.
  const DEADLINE_MS = 20000;

  // ------------------------------------------------------------------ API

  class ApiError extends Error {}

  async function api(method, path, body, extraHeaders) {
    const headers = { Accept: "application/json", "X-CSRFToken": csrfToken, ...extraHeaders };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let response;
    try {
      response = await fetch("/api/v1" + path, {
        method,
        headers,
        credentials: "same-origin",
        signal: AbortSignal.timeout(DEADLINE_MS),
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (err) {
      throw new ApiError(t.network);
    }
    if (response.status === 204) return null;
    let data = null;
    try {
      data = await response.json();
    } catch (err) {
      data = null;
    }
    if (!response.ok) {
      let message = (data && data.detail) || t.failed;
      if (data && Array.isArray(data.errors) && data.errors.length) {
        const fields = data.errors.map((e) => (e.field ? e.field + ": " : "") + e.message);
        message += " " + fields.join("; ");
      }
      throw new ApiError(message);
    }
    return data;
  }

  // ------------------------------------------------------------------ helpers

  const $ = (selector, root) => (root || document).querySelector(selector);
  const $$ = (selector, root) => Array.from((root || document).querySelectorAll(selector));

  function columnName(number) {
    const column = config.columns.find((c) => c.number === Number(number));
    return column ? column.name : String(number);
  }

  function formatDay(isoDay) {
    const d = new Date(isoDay + "T12:00:00");
    return d.toLocaleDateString(config.language, {
      weekday: "short",
      day: "numeric",
      month: "numeric",
      year: "numeric",
    });
  }

  function formatDateTime(iso) {
    return new Date(iso).toLocaleString(config.language, {
      dateStyle: "short",
      timeStyle: "short",
      timeZone: config.timeZone,
    });
  }

  // "2026-03-30T08:15:00+02:00" is already the calendar's wall time.
  const wallTime = (iso) => (iso ? iso.slice(11, 16) : "");

  function showError(dialog, message) {
    const box = dialog ? $("[data-error]", dialog) : $("#page-alert");
    box.textContent = message;
    box.hidden = false;
  }

  // A warning about the last change, kept over the reload that shows its effect.
  const FLASH = "termin360-flash";

  function showFlash() {
    const warning = sessionStorage.getItem(FLASH);
    if (!warning) return;
    sessionStorage.removeItem(FLASH);
    showError(null, warning);
  }

  function clearError(dialog) {
    const box = dialog ? $("[data-error]", dialog) : $("#page-alert");
    box.textContent = "";
    box.hidden = true;
  }

  function setBusy(dialog, busy) {
    if (!dialog) return;
    dialog.toggleAttribute("aria-busy", busy);
    $$("button, input, select", dialog).forEach((el) => {
      if (!el.matches("[data-close]")) el.disabled = busy;
    });
  }

  // After a reload, put the keyboard focus back where the user was working.
  function reloadFocusing(selector) {
    if (selector) sessionStorage.setItem(FOCUS_KEY, selector);
    window.location.reload();
  }

  function restoreFocus() {
    const selector = sessionStorage.getItem(FOCUS_KEY);
    sessionStorage.removeItem(FOCUS_KEY);
    const el = selector && $(selector);
    if (el) el.focus();
  }

  /** Run one change through the API; reload on success, show the error in place otherwise. */
  async function change(dialog, action, focusAfter) {
    clearError(dialog);
    setBusy(dialog, true);
    try {
      const result = await action();
      const selector = typeof focusAfter === "function" ? focusAfter(result) : focusAfter;
      reloadFocusing(selector);
    } catch (err) {
      setBusy(dialog, false);
      showError(dialog, err.message || t.failed);
    }
  }

  /** Destructive buttons ask once more by changing their label; the second press acts. */
  function confirmed(button, question) {
    if (button.dataset.armed) return true;
    button.dataset.armed = "1";
    button.dataset.label = button.textContent;
    button.textContent = question;
    setTimeout(() => {
      if (!button.dataset.armed) return;
      delete button.dataset.armed;
      button.textContent = button.dataset.label;
    }, 5000);
    return false;
  }

  function open(dialog, focusTarget) {
    clearError(dialog);
    setBusy(dialog, false);
    $$("[data-armed]", dialog).forEach((b) => {
      delete b.dataset.armed;
      b.textContent = b.dataset.label;
    });
    if (!dialog.open) dialog.showModal();
    if (focusTarget) focusTarget.focus();
  }

  $$("dialog").forEach((dialog) => {
    // a click on the backdrop closes the dialog (Escape does natively)
    dialog.addEventListener("click", (e) => {
      if (e.target === dialog) dialog.close();
    });
  });

  // ------------------------------------------------------------------ slot dialog

  const slotDialog = $("#slot-dialog");
  const bookForm = $("#book-form");
  const search = $("#patient-search");
  const results = $("#patient-results");
  const searchStatus = $("#patient-status");
  const chosen = $("#patient-chosen");
  let current = {};
  let chosenPatient = null;

  function showPart(name, visible) {
    $(`[data-part="${name}"]`, slotDialog).hidden = !visible;
  }

  function resetBooking(mode) {
    bookForm.reset();
    chosenPatient = null;
    chosen.hidden = true;
    results.replaceChildren();
    searchStatus.textContent = "";
    $("[data-title-slot]", slotDialog).hidden = mode !== "slot";
    $("[data-title-additional]", slotDialog).hidden = mode !== "additional";
    $$("[data-slot-only]", slotDialog).forEach((el) => (el.hidden = mode !== "slot"));
  }

  function openSlot(el) {
    const d = el.dataset;
    const reserved = d.reserved === "1";
    const bookable = (d.state === "free" || d.state === "note") && !reserved;
    current = { mode: "slot", slotId: Number(d.slotId), day: d.day, column: Number(d.column) };
    $("#slot-dialog-title").textContent =
      `${d.time} · ${columnName(d.column)} · ${formatDay(d.day)}`;
    resetBooking("slot");
    showPart("book", bookable);
    showPart("reserved", reserved);
    showPart("unblock", d.state === "annotation");
    showPart("note", true);
    showPart("block", d.state === "free" || d.state === "note");
    $("[data-reason]", slotDialog).textContent = d.reason || "";
    $("[data-annotation]", slotDialog).textContent = d.annotation || "";
    $("#note-text").value = d.note || "";
    $("#block-text").value = "";
    const first = bookable ? search : $("[data-part]:not([hidden]) button, [data-part]:not([hidden]) input", slotDialog);
    open(slotDialog, first);
  }

  function openAdditional(day) {
    current = { mode: "additional", day: day };
    $("#slot-dialog-title").textContent = formatDay(day);
    resetBooking("additional");
    ["reserved", "unblock", "note", "block"].forEach((p) => showPart(p, false));
    showPart("book", true);
    open(slotDialog, search);
  }

  let searchTimer = null;
  let searchSeq = 0;

  async function runSearch() {
    const q = search.value.trim();
    const seq = ++searchSeq;
    if (!q) {
      results.replaceChildren();
      searchStatus.textContent = "";
      return;
    }
    searchStatus.textContent = t.searching;
    const query = new URLSearchParams({ q, location_id: config.locationId, limit: "10" });
    try {
      const patients = await api("GET", "/patients?" + query.toString());
      if (seq !== searchSeq) return; // an answer to an older query
      results.replaceChildren(
        ...patients.map((p) => {
          const li = document.createElement("li");
          const button = document.createElement("button");
          button.type = "button";
          button.className = "result";
          button.dataset.patientId = p.id;
          const name = `${p.last_name}, ${p.first_name}`;
          const born = new Date(p.date_of_birth + "T12:00:00").toLocaleDateString(config.language);
          button.textContent = `${name} (${born})`;
          button.addEventListener("click", () => choosePatient({ id: p.id, label: button.textContent }));
          li.append(button);
          return li;
        })
      );
      searchStatus.textContent = patients.length
        ? t.patientsFound.replace("%(n)s", patients.length)
        : t.noPatients;
    } catch (err) {
      if (seq === searchSeq) searchStatus.textContent = err.message;
    }
  }

  function choosePatient(patient) {
    chosenPatient = patient;
    $("[data-name]", chosen).textContent = patient.label;
    chosen.hidden = false;
    results.replaceChildren();
    searchStatus.textContent = "";
    search.value = "";
    $("#book-reason").focus();
  }

  search.addEventListener("input", () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(runSearch, 200);
  });

  // Arrow keys walk from the search field through the results and back.
  slotDialog.addEventListener("keydown", (e) => {
    if (e.key !== "ArrowDown" && e.key !== "ArrowUp") return;
    const buttons = $$("button.result", results);
    if (!buttons.length) return;
    const index = buttons.indexOf(document.activeElement);
    if (e.target === search && e.key === "ArrowDown") {
      buttons[0].focus();
    } else if (index >= 0) {
      const next = index + (e.key === "ArrowDown" ? 1 : -1);
      (next < 0 ? search : buttons[Math.min(next, buttons.length - 1)]).focus();
    } else {
      return;
    }
    e.preventDefault();
  });

  bookForm.addEventListener("submit", (e) => {
    e.preventDefault();
    const body = {
      patient_id: chosenPatient ? chosenPatient.id : null,
      text: $("#book-text").value.trim(),
      reason: $("#book-reason").value.trim(),
    };
    const focusNew = (appt) => `[data-appointment-id="${appt.id}"]`;
    if (current.mode === "additional") {
      Object.assign(body, { calendar: config.calendar, day: current.day });
      change(slotDialog, () => api("POST", "/additional-appointments", body), focusNew);
    } else {
      Object.assign(body, { slot_id: current.slotId, slot_count: Number($("#book-count").value) });
      change(slotDialog, () => api("POST", "/appointments", body), focusNew);
    }
  });

  const focusSlot = () => `[data-slot-id="${current.slotId}"]`;

  $("#note-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const text = $("#note-text").value;
    change(slotDialog, () => api("PUT", `/slots/${current.slotId}/note`, { text }), focusSlot);
  });

  $("#block-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const text = $("#block-text").value;
    change(slotDialog, () => api("POST", `/slots/${current.slotId}/annotation`, { text }), focusSlot);
  });

  // ------------------------------------------------------------------ appointment dialog

  const apptDialog = $("#appt-dialog");
  const history = $("#appt-history");

  async function openAppointment(el) {
    const id = Number(el.dataset.appointmentId);
    clearError(null);
    let a;
    try {
      a = await api("GET", `/appointments/${id}`);
    } catch (err) {
      showError(null, err.message);
      return;
    }
    current = { mode: "appointment", appointmentId: id };
    const fact = (name) => $(`[data-fact="${name}"]`, apptDialog);
    const title = a.patient ? `${a.patient.last_name}, ${a.patient.first_name}` : a.text;
    $("#appt-dialog-title").textContent = title;
    fact("when").textContent = a.in_additional_list
      ? [formatDay(a.day), t.additionalList, a.start ? wallTime(a.start) : ""].filter(Boolean).join(" · ")
      : `${formatDay(a.day)} · ${wallTime(a.start)}–${wallTime(a.end)} · ${columnName(a.column)} · ${a.slot_count} ${t.slots}`;
    fact("patient").textContent = a.patient
      ? `${a.patient.last_name}, ${a.patient.first_name} (${new Date(a.patient.date_of_birth + "T12:00:00").toLocaleDateString(config.language)})`
      : "—";
    fact("origin").textContent = a.origin === "online" ? t.onlineBooking : t.practice;
    $$("[data-flag-row]", apptDialog).forEach((row) => (row.hidden = !a.flagged));
    fact("flag").textContent = (a.flag_reason && t[`flag_${a.flag_reason}`]) || a.flag_reason || "";
    $("#edit-text").value = a.text;
    $("#edit-reason").value = a.reason;
    $$("[data-placed-only]", apptDialog).forEach((p) => (p.hidden = a.in_additional_list));
    $("[data-legend-move]", apptDialog).hidden = a.in_additional_list;
    $("[data-legend-place]", apptDialog).hidden = !a.in_additional_list;
    $("#move-day").value = a.day;
    $("#move-column").value = String(a.column || config.weekColumn || (config.columns[0] || {}).number || "");
    $("#move-time").value = a.start ? wallTime(a.start) : "";
    history.open = false;
    $(".history__list", history).replaceChildren();
    open(apptDialog, $("#edit-text"));
  }

  const focusAppointment = () => `[data-appointment-id="${current.appointmentId}"]`;

  $("#edit-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const body = { text: $("#edit-text").value, reason: $("#edit-reason").value };
    change(apptDialog, () => api("PATCH", `/appointments/${current.appointmentId}`, body), focusAppointment);
  });

  $("#move-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const body = {
      column: Number($("#move-column").value),
      start: `${$("#move-day").value}T${$("#move-time").value}`,
    };
    change(apptDialog, () => api("POST", `/appointments/${current.appointmentId}/move`, body), focusAppointment);
  });

  history.addEventListener("toggle", async () => {
    if (!history.open) return;
    const list = $(".history__list", history);
    try {
      const entries = await api("GET", `/appointments/${current.appointmentId}/history`);
      list.replaceChildren(
        ...entries.map((entry) => {
          const li = document.createElement("li");
          li.textContent = `${formatDateTime(entry.at)} · ${entry.actor} · ${entry.summary}`;
          return li;
        })
      );
      if (!entries.length) list.textContent = t.historyEmpty;
    } catch (err) {
      showError(apptDialog, err.message);
    }
  });

  // ------------------------------------------------------------------ reservation dialog

  const reservationDialog = $("#reservation-dialog");

  function openReservations(from) {
    if (slotDialog.open) slotDialog.close();
    if (from && from.slotId) {
      $("#res-first").value = from.day;
      $("#res-last").value = from.day;
    }
    open(reservationDialog, $('input[name="columns"]', reservationDialog));
  }

  $("#reservation-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const columns = $$('input[name="columns"]:checked', reservationDialog).map((c) => Number(c.value));
    if (!columns.length) {
      showError(reservationDialog, t.chooseColumn);
      return;
    }
    const body = {
      columns,
      first_day: $("#res-first").value,
      last_day: $("#res-last").value,
      start: $("#res-start").value,
      end: $("#res-end").value,
      reason: $("#res-reason").value.trim(),
    };
    change(reservationDialog, async () => {
      const created = await api("POST", `/calendars/${config.calendar}/reservations`, body);
      // Saved, but perhaps not what was meant (no slot in its range): say so after the reload.
      if (created && created.warning) sessionStorage.setItem(FLASH, created.warning);
      return created;
    });
  });

  // ------------------------------------------------------------------ buttons

  const actions = {
    "open-reservations": () => openReservations(current),
    "new-additional": (button) => openAdditional(button.dataset.day || config.day),
    "clear-patient": () => {
      chosenPatient = null;
      chosen.hidden = true;
      search.focus();
    },
    "clear-note": () =>
      change(slotDialog, () => api("PUT", `/slots/${current.slotId}/note`, { text: "" }), focusSlot),
    "remove-annotation": () =>
      change(slotDialog, () => api("DELETE", `/slots/${current.slotId}/annotation`), focusSlot),
    extend: () =>
      change(apptDialog, () => api("POST", `/appointments/${current.appointmentId}/extend`), focusAppointment),
    shorten: () =>
      change(apptDialog, () => api("POST", `/appointments/${current.appointmentId}/shorten`), focusAppointment),
    "to-additional": () =>
      change(
        apptDialog,
        () => api("POST", `/appointments/${current.appointmentId}/move`, { to_additional_list: true }),
        focusAppointment
      ),
    "clear-flag": () =>
      change(apptDialog, () => api("PATCH", `/appointments/${current.appointmentId}`, { clear_flag: true }), focusAppointment),
    delete: (button) => {
      if (!confirmed(button, t.confirmDelete)) return;
      change(apptDialog, () => api("DELETE", `/appointments/${current.appointmentId}`));
    },
    "delete-reservation": (button) => {
      if (!confirmed(button, t.confirmDeleteReservation)) return;
      change(reservationDialog, () => api("DELETE", `/reservations/${button.dataset.reservationId}`));
    },
  };

  document.addEventListener("click", (e) => {
    const target = e.target instanceof Element ? e.target : null;
    if (!target) return;
    const close = target.closest("[data-close]");
    if (close) {
      close.closest("dialog").close();
      return;
    }
    const action = target.closest("[data-action]");
    if (action && actions[action.dataset.action]) {
      actions[action.dataset.action](action);
      return;
    }
    const appt = target.closest(".appt[data-appointment-id]");
    if (appt) {
      openAppointment(appt);
      return;
    }
    const slot = target.closest("button.slot");
    if (slot) openSlot(slot);
  });

  // ------------------------------------------------------------------ keyboard on the grid

  function neighbour(el, key) {
    const lane = Number(el.dataset.lane);
    const rowStart = Number(el.dataset.rowStart);
    const rowEnd = Number(el.dataset.rowEnd);
    const cells = $$(".grid [data-lane]").map((c) => ({
      el: c,
      lane: Number(c.dataset.lane),
      start: Number(c.dataset.rowStart),
      end: Number(c.dataset.rowEnd),
    }));
    const pick = (list, better) => list.reduce((best, c) => (best && !better(c, best) ? best : c), null);
    if (key === "ArrowDown") {
      const below = cells.filter((c) => c.lane === lane && c.start >= rowEnd);
      return pick(below, (c, best) => c.start < best.start);
    }
    if (key === "ArrowUp") {
      const above = cells.filter((c) => c.lane === lane && c.end <= rowStart);
      return pick(above, (c, best) => c.start > best.start);
    }
    const step = key === "ArrowRight" ? 1 : -1;
    const lastLane = Math.max(...cells.map((c) => c.lane));
    for (let other = lane + step; other >= 0 && other <= lastLane; other += step) {
      const inLane = cells.filter((c) => c.lane === other);
      if (!inLane.length) continue;
      const covering = inLane.find((c) => c.start <= rowStart && rowStart < c.end);
      return covering || pick(inLane, (c, best) => Math.abs(c.start - rowStart) < Math.abs(best.start - rowStart));
    }
    return null;
  }

  document.addEventListener("keydown", (e) => {
    const target = e.target instanceof Element ? e.target : null;
    if (!target || e.altKey || e.ctrlKey || e.metaKey) return;
    // role="button" elements (the draggable appointments) act like buttons
    if ((e.key === "Enter" || e.key === " ") && target.matches('[role="button"]')) {
      e.preventDefault();
      target.click();
      return;
    }
    if (target.matches(".grid [data-lane]") && e.key.startsWith("Arrow")) {
      const next = neighbour(target, e.key);
      if (next) {
        e.preventDefault();
        next.el.focus();
      }
    }
  });

  // ------------------------------------------------------------------ drag & drop

  let dragged = null;
  let over = null;

  function setOver(el) {
    if (over === el) return;
    if (over) over.classList.remove("is-drop-target");
    over = el;
    if (over) over.classList.add("is-drop-target");
  }

  function dropTargetOf(e) {
    if (!dragged || !(e.target instanceof Element)) return null;
    const target = e.target.closest("[data-drop]");
    if (!target) return null;
    if (target.dataset.drop === "additional" && dragged.additional) return null;
    return target;
  }

  document.addEventListener("dragstart", (e) => {
    const el = e.target instanceof Element ? e.target.closest(".appt[draggable]") : null;
    if (!el) return;
    dragged = { id: Number(el.dataset.appointmentId), additional: el.dataset.additional === "1", el };
    e.dataTransfer.effectAllowed = "move";
    e.dataTransfer.setData("text/plain", String(dragged.id));
    el.classList.add("is-dragged");
    document.body.classList.add("is-dragging");
    if (dragged.additional) document.body.classList.add("is-dragging-additional");
  });

  document.addEventListener("dragend", () => {
    if (dragged) dragged.el.classList.remove("is-dragged");
    document.body.classList.remove("is-dragging", "is-dragging-additional");
    setOver(null);
    dragged = null;
  });

  document.addEventListener("dragover", (e) => {
    const target = dropTargetOf(e);
    setOver(target);
    if (!target) return;
    e.preventDefault();
    e.dataTransfer.dropEffect = "move";
  });

  document.addEventListener("drop", (e) => {
    const target = dropTargetOf(e);
    if (!target) return;
    e.preventDefault();
    const id = dragged.id;
    const body =
      target.dataset.drop === "additional"
        ? { to_additional_list: true }
        : { slot_id: Number(target.dataset.slotId) };
    setOver(null);
    change(null, () => api("POST", `/appointments/${id}/move`, body), `[data-appointment-id="${id}"]`);
  });

  // ------------------------------------------------------------------ live view (C8)

  const live = config.live;
  const notices = $("#live-notices");
  const baseTitle = document.title;
  const seenAppointments = new Set();
  let shownVersion = live ? live.version : 0;
  let refreshing = false;
  let reservationsStale = false;
  let behind = false; // the server has a newer version than the one shown
  let unseen = 0;

  const appointmentsShown = () => $$("#live-grid .appt[data-appointment-id], #additional-list .appt[data-appointment-id]");
  appointmentsShown().forEach((el) => seenAppointments.add(el.dataset.appointmentId));

  function focusSelectorOf(el) {
    if (!(el instanceof Element)) return null;
    if (el.matches(".appt[data-appointment-id]")) return `[data-appointment-id="${el.dataset.appointmentId}"]`;
    if (el.matches("button.slot[data-slot-id]")) return `[data-slot-id="${el.dataset.slotId}"]`;
    return null;
  }

  function showUnseen() {
    document.title = unseen ? `(${unseen}) ${baseTitle}` : baseTitle;
  }

  function seen() {
    if (!unseen) return;
    unseen = 0;
    showUnseen();
  }

  function announce(el) {
    const d = el.dataset;
    const additional = d.additional === "1";
    let when = additional ? d.wish || "" : d.time || "";
    if (config.weekColumn !== undefined) when = `${formatDay(d.day)} ${when}`;
    const text = t.newOnlineBooking
      .replace("%(time)s", when)
      .replace("%(column)s", additional ? t.additionalList : columnName(d.column))
      .replace("%(title)s", d.title || "")
      .replace(/\s+/g, " ")
      .trim();
    const notice = document.createElement("div");
    notice.className = "live-notice";
    notice.dataset.appointmentId = d.appointmentId;
    const show = document.createElement("button");
    show.type = "button";
    show.className = "live-notice__text";
    show.dataset.action = "show-notice";
    show.textContent = text;
    const dismiss = document.createElement("button");
    dismiss.type = "button";
    dismiss.className = "btn btn--quiet live-notice__dismiss";
    dismiss.dataset.action = "dismiss-notice";
    dismiss.title = t.dismiss;
    dismiss.setAttribute("aria-label", t.dismiss);
    dismiss.textContent = "×";
    notice.append(show, dismiss);
    notices.append(notice);
    unseen += 1;
  }

  function dismissNotice(button) {
    button.closest(".live-notice").remove();
    unseen = Math.max(0, unseen - 1);
    showUnseen();
  }

  actions["dismiss-notice"] = dismissNotice;
  actions["show-notice"] = (button) => {
    const el = $(`#live-grid [data-appointment-id="${button.closest(".live-notice").dataset.appointmentId}"], #additional-list [data-appointment-id="${button.closest(".live-notice").dataset.appointmentId}"]`);
    if (el) {
      el.scrollIntoView({ block: "center" });
      el.focus();
    }
    dismissNotice(button);
  };

  // Seen: the receptionist looks at the tab (it becomes visible or gets the focus).
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") seen();
  });
  window.addEventListener("focus", seen);

  function swapIn(doc) {
    const focused = focusSelectorOf(document.activeElement);
    const wrap = $("#live-grid .grid-wrap");
    const scroll = wrap ? [wrap.scrollTop, wrap.scrollLeft] : null;
    sizeGrid(doc);
    $("#live-grid").replaceWith(doc.getElementById("live-grid"));
    $("#additional-list").replaceWith(doc.getElementById("additional-list"));
    if (reservationDialog.open) {
      reservationsStale = true; // its delete buttons may be armed: swap when it closes
    } else {
      $("#reservation-list").replaceWith(doc.getElementById("reservation-list"));
      reservationsStale = false;
    }
    const newWrap = $("#live-grid .grid-wrap");
    if (scroll && newWrap) [newWrap.scrollTop, newWrap.scrollLeft] = scroll;
    const again = focused && $(focused);
    if (again) again.focus({ preventScroll: true });
    appointmentsShown().forEach((el) => {
      const id = el.dataset.appointmentId;
      if (seenAppointments.has(id)) return;
      seenAppointments.add(id);
      if (el.matches(".appt--online")) announce(el);
    });
    showUnseen();
  }

  /** Fetch this page again and swap its changing parts in (not during a drag). */
  async function refresh() {
    if (refreshing || dragged) return;
    refreshing = true;
    try {
      const response = await fetch(window.location.href, {
        credentials: "same-origin",
        headers: { Accept: "text/html" },
        signal: AbortSignal.timeout(DEADLINE_MS),
      });
      if (!response.ok) return;
      const doc = new DOMParser().parseFromString(await response.text(), "text/html");
      const fresh = doc.getElementById("page-config");
      // a drag that began while the page was on its way: the next poll swaps it in
      if (!fresh || !doc.getElementById("live-grid") || dragged) return;
      swapIn(doc);
      shownVersion = JSON.parse(fresh.textContent).live.version;
      behind = false;
    } catch (err) {
      // offline for a moment: the next poll tries again
    } finally {
      refreshing = false;
    }
  }

  async function poll() {
    let wait = live.every;
    try {
      const query = new URLSearchParams({ first_day: live.firstDay, last_day: live.lastDay });
      // The live token instead of the session: a poll then costs one query (decision 014).
      const answer = await api("GET", `/calendars/${config.calendar}/version?${query}`, undefined, {
        "X-Termin360-Live": live.token,
      });
      behind = answer.version !== shownVersion;
      if (behind) await refresh();
    } catch (err) {
      wait = live.every * 5; // the server is away or the session ended: ask less often
    }
    setTimeout(poll, wait);
  }

  // Dialogs keep their own content; after one closes, put the focus back on what it
  // was opened from (that element may have been swapped meanwhile).
  let openedFrom = null;
  document.addEventListener("click", (e) => {
    const selector = focusSelectorOf(e.target instanceof Element ? e.target.closest("[data-appointment-id], [data-slot-id]") : null);
    if (selector) openedFrom = selector;
  }, true);
  $$("dialog").forEach((dialog) => {
    dialog.addEventListener("close", () => {
      if (dialog === reservationDialog && reservationsStale) refresh();
      if (openedFrom && (!document.activeElement || document.activeElement === document.body)) {
        const el = $(openedFrom);
        if (el) el.focus({ preventScroll: true });
      }
    });
  });
  document.addEventListener("dragend", () => {
    if (behind) setTimeout(refresh, 0);
  });

  if (live) setTimeout(poll, live.every);

  restoreFocus();
  showFlash();
})();
