"""The inbox page mailsim serves at /: one HTML file with its script, no build step."""

# Rendered client-side with textContent only, so message content can never become markup.
INBOX_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>mailsim inbox</title>
<style>
body { font: 14px system-ui, sans-serif; margin: 0; display: flex; height: 100vh; }
#list { flex: 1; overflow: auto; border-right: 1px solid #ccc; }
#detail { flex: 1; overflow: auto; padding: 0 1em; }
header { padding: 8px; background: #f4f4f4; position: sticky; top: 0; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #eee; }
td { max-width: 22em; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
tbody tr { cursor: pointer; }
tbody tr:hover { background: #f3f6ff; }
tr.sel { background: #dde6ff; }
pre { white-space: pre-wrap; background: #fafafa; padding: 8px; }
</style></head>
<body>
<div id="list">
  <header><b>mailsim</b> <span id="status"></span> <button id="clear">Clear</button></header>
  <table><thead><tr><th>#</th><th>Time</th><th>To</th><th>Subject</th></tr></thead>
  <tbody id="rows"></tbody></table>
</div>
<div id="detail"><p>Select a message.</p></div>
<script>
"use strict";
let messages = [], selected = null;
function el(tag, text) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = String(text);
  return node;
}
function show(m) {
  selected = m.id;
  const headers = Object.entries(m.headers).map(([k, v]) => k + ": " + v).join("\\n");
  const meta = el("pre", "From: " + m.from + "\\nTo: " + m.to.join(", ") +
                         "\\nReceived: " + m.received_at_iso);
  const more = el("details");
  more.append(el("summary", "All headers"), el("pre", headers));
  document.getElementById("detail").replaceChildren(
    el("h2", m.subject || "(no subject)"), meta, el("pre", m.text), more);
  render();
}
function render() {
  const rows = messages.slice().reverse().map((m) => {
    const tr = el("tr");
    if (m.id === selected) tr.className = "sel";
    const time = new Date(m.received_at * 1000).toLocaleTimeString();
    tr.append(el("td", m.id), el("td", time), el("td", m.to.join(", ")), el("td", m.subject));
    tr.onclick = () => show(m);
    return tr;
  });
  document.getElementById("rows").replaceChildren(...rows);
}
async function refresh() {
  const status = document.getElementById("status");
  try {
    const data = await (await fetch("/api/messages?limit=200")).json();
    messages = data.messages;
    status.textContent = data.total + " message(s)";
    render();
  } catch (err) {
    status.textContent = "offline";
  }
}
document.getElementById("clear").onclick = async () => {
  await fetch("/api/messages", { method: "DELETE" });
  selected = null;
  document.getElementById("detail").replaceChildren(el("p", "Select a message."));
  refresh();
};
refresh();
setInterval(refresh, 2000);
</script>
</body></html>
"""
