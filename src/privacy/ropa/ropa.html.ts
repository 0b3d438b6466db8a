import type { Ropa } from './ropa.schemas.js';

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Text safe in HTML content and quoted attributes. */
export function escapeHtml(value: string | number): string {
  return String(value).replace(/[&<>"']/g, (char) => ENTITIES[char]!);
}

/** A tagged template that escapes every interpolated value, except pieces already rendered by it. */
class Html {
  constructor(readonly text: string) {}
}
function html(strings: TemplateStringsArray, ...values: Array<string | number | Html | Html[]>): Html {
  return new Html(
    strings.reduce((out, part, index) => {
      if (index === 0) return part;
      const value = values[index - 1]!;
      const rendered = Array.isArray(value) ? value.map((piece) => piece.text).join('') : value instanceof Html ? value.text : escapeHtml(value);
      return out + rendered + part;
    }, ''),
  );
}

const list = (items: string[], empty: string) => (items.length === 0 ? html`<em>${empty}</em>` : html`<ul>${items.map((item) => html`<li>${item}</li>`)}</ul>`);

/**
 * The record of processing as a printable page: no script, no inline style (the app's CSP allows
 * neither), one stylesheet of our own origin, every value escaped.
 */
export function renderRopaHtml(ropa: Ropa): string {
  const controller = ropa.controller;
  const page = html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${ropa.title}</title>
<link rel="stylesheet" href="/privacy/ropa.css">
</head>
<body>
<main>
<h1>${ropa.title}</h1>
<p>Generated ${ropa.generated_at} from the data Rampart holds and the organization's declarations.</p>
<h2>Controller</h2>
<dl>
<dt>Organization</dt><dd>${controller.organization}</dd>
<dt>Name</dt><dd>${controller.name ?? 'not declared'}</dd>
<dt>Contact</dt><dd>${controller.contact ?? 'not declared'}</dd>
<dt>Data protection officer</dt><dd>${controller.dpo ?? 'not declared'}</dd>
</dl>
<h2>Processing activities</h2>
${ropa.processing_activities.length === 0 ? html`<p><em>No collections yet.</em></p>` : ropa.processing_activities.map(
    (activity) => html`<section>
<h3>${activity.collection}${activity.declared ? '' : ' (not declared)'}</h3>
<dl>
<dt>Purposes</dt><dd>${list(activity.purposes, 'not declared')}</dd>
<dt>Legal basis</dt><dd>${activity.legal_basis ?? 'not declared'}</dd>
<dt>Data subjects</dt><dd>${list(activity.data_subjects, 'not declared')}</dd>
<dt>Records</dt><dd>${activity.records} (${activity.records_with_subject} about an identified subject)</dd>
</dl>
<table>
<thead><tr><th scope="col">Category of data</th><th scope="col">Records</th><th scope="col">Kept (days)</th><th scope="col">Retention set by</th></tr></thead>
<tbody>${activity.categories_of_data.map((row) => html`<tr><td>${row.category}</td><td>${row.records}</td><td>${row.retention.days}</td><td>${row.retention.source}</td></tr>`)}</tbody>
</table>
</section>`,
  )}
<h2>Files</h2>
<p>${ropa.files.count} files, kept ${ropa.files.retention.days} days.</p>
<h2>Consent purposes</h2>
${list(ropa.consent.purposes, 'none')}
<p>${ropa.consent.subjects_with_records} data subjects with consent records.</p>
<h2>Recipients</h2>
<p>${ropa.recipients.note}</p>
${ropa.recipients.list.length === 0 ? html`` : html`<table><thead><tr><th scope="col">Name</th><th scope="col">Purpose</th><th scope="col">Country</th></tr></thead><tbody>${ropa.recipients.list.map((r) => html`<tr><td>${r.name}</td><td>${r.purpose}</td><td>${r.country}</td></tr>`)}</tbody></table>`}
<h2>Transfers outside the EU/EEA</h2>
<p>${ropa.transfers_outside_eu.note}</p>
${ropa.transfers_outside_eu.list.length === 0 ? html`` : html`<table><thead><tr><th scope="col">Country</th><th scope="col">Safeguard</th></tr></thead><tbody>${ropa.transfers_outside_eu.list.map((t) => html`<tr><td>${t.country}</td><td>${t.safeguard}</td></tr>`)}</tbody></table>`}
<h2>Technical and organisational security measures</h2>
${list(ropa.security_measures, 'none')}
</main>
</body>
</html>
`;
  return page.text;
}
