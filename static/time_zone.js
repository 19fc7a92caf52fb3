// The browser's IANA time zone (e.g. America/New_York), so pages and mail show times in it.
// The sign-in form sends it in a hidden field; the account page saves it when it changed.

export function browserZone() {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || "";
  } catch {
    return "";
  }
}

const zone = browserZone();
for (const input of document.querySelectorAll("input[data-time-zone]")) input.value = zone;

const saver = document.querySelector("[data-time-zone-save]");
if (zone && saver && saver.dataset.saved !== zone) {
  const token = document.querySelector('meta[name="csrf-token"]').content;
  fetch(saver.dataset.timeZoneSave, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRFToken": token },
    body: JSON.stringify({ time_zone: zone }),
  }).then((response) => {
    // Saved: show this page's times in it once (a zone the server refuses changes nothing).
    if (response.status === 204) window.location.reload();
  });
}
