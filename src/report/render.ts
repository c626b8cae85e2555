import type { CheckStatus } from '../engine/step.js';
import { words, type Words } from './i18n.js';
import type { HandIn, ReportCheck, Section } from './model.js';
import { MARK } from './pictures.js';

/**
 * report.md is the content; index.html is the same Markdown rendered by marked (loaded only
 * here) inside a print-friendly page that fetches nothing: the pictures are files beside it
 * and a Content-Security-Policy forbids any other request.
 */

/** Text from AWS or a check, safe in Markdown and in the HTML marked makes of it. */
export function md(s: string): string {
  return (
    s
      .replace(/&/g, '&amp;')
      .replace(/</g, '&lt;')
      .replace(/>/g, '&gt;')
      .replace(/([\\`*_[\]|#])/g, '\\$1')
      // No autolinks from evidence (GFM links bare URLs and www. names): the page links nowhere.
      .replace(/:\/\//g, '&#58;//')
      .replace(/\bwww\./gi, (m) => `${m.slice(0, 3)}&#46;`)
      .replace(/\r?\n/g, ' ')
  );
}
const code = (s: string) =>
  '`' + s.replace(/`/g, "'").replace(/\|/g, '\\|').replace(/\n/g, ' ') + '`';

const status = (s: CheckStatus, w: Words) => `${MARK[s]} ${w[`status_${s}`]}`;

/** The anchor of a section, stable across languages (the browser test looks for these). */
export const anchor = (id: string) => `place-${id}`;

function checksTable(checks: ReportCheck[], w: Words): string[] {
  if (checks.length === 0) return [];
  return [
    `| ${w.status} | ${w.check} | ${w.evidence} | ${w.fix} |`,
    '|---|---|---|---|',
    ...checks.map(
      (c) =>
        `| ${status(c.status, w)} | ${md(c.title)} | ${md(c.evidence)} | ${c.status !== 'pass' && c.fix ? code(c.fix) : ''} |`,
    ),
    '',
  ];
}

function sectionLines(s: Section, w: Words): string[] {
  const title = w.places[s.id] ?? s.id;
  const lines = [
    `<a id="${anchor(s.id)}"></a>`,
    '',
    `### ${s.place ? `${s.place}. ` : ''}${md(title)}`,
    '',
  ];
  for (const p of s.pictures) {
    lines.push(
      `![${md(p.caption)}](images/${p.file})`,
      '',
      `*${md(p.caption)} — ${p.by === 'aws' ? w.drawnByAws : w.drawnBy}*`,
      '',
    );
  }
  if (s.pictures.length === 0) lines.push(`> ${w.noPicture}`, '');
  for (const n of s.notes) lines.push(`> ${md(n)}`, '');
  lines.push(...checksTable(s.checks, w));
  return lines;
}

/** What the grade leaves out because it was not measured (the drills, the load test). */
function notMeasured(m: HandIn, w: Words): string {
  const list = m.score.notMeasured ?? [];
  if (list.length === 0) return '';
  return `; ${w.notMeasured}: ${list.map((n) => `${md(n.item)} (${n.points} ${w.points}${n.fix ? `: ${code(n.fix)}` : ''})`).join(', ')}`;
}

export function renderMarkdown(m: HandIn): string {
  const w = words(m.lang);
  const lines: string[] = [
    `# ${w.reportTitle}`,
    '',
    `- ${w.stack}: ${code(m.stack)}`,
    `- ${w.region}: ${code(m.region)}`,
    `- ${w.checkedAt}: ${md(m.at)}`,
    ...(m.score.items.length
      ? [`- **${w.score}: ${m.score.total}/100 — ${w.grade} ${m.score.grade}**${notMeasured(m, w)}`]
      : []),
    '',
    `## ${w.contents}`,
    '',
  ];
  const phases = [...new Set(m.sections.map((s) => s.phase))].sort();
  for (const ph of phases) {
    lines.push(`- ${w.phases[ph]}`);
    for (const s of m.sections.filter((x) => x.phase === ph))
      lines.push(
        `  - [${s.place ? `${s.place}. ` : ''}${md(w.places[s.id] ?? s.id)}](#${anchor(s.id)})`,
      );
  }
  if (m.criteria.length) lines.push(`- [${w.criteriaTitle}](#${anchor('criteria')})`);
  if (m.score.items.length) lines.push(`- [${w.scoreTitle}](#${anchor('score')})`);
  lines.push('');
  for (const ph of phases) {
    lines.push(`## ${w.phases[ph]}`, '');
    for (const s of m.sections.filter((x) => x.phase === ph)) lines.push(...sectionLines(s, w));
  }
  if (m.criteria.length) {
    lines.push(`<a id="${anchor('criteria')}"></a>`, '', `## ${w.criteriaTitle}`, '');
    for (const group of ['functional', 'performance', 'security', 'cost'] as const) {
      const rows = m.criteria.filter((c) => c.group === group);
      if (!rows.length) continue;
      lines.push(
        `### ${w.criteriaGroups[group]}`,
        '',
        `| ${w.status} | ${w.criteriaTitle} | ${w.evidence} |`,
        '|---|---|---|',
      );
      for (const r of rows)
        lines.push(
          `| ${status(r.status, w)} | ${md(w.criteria[r.key] ?? r.key)} | ${md(r.evidence)} |`,
        );
      lines.push('');
    }
  }
  if (m.score.items.length) {
    lines.push(
      `<a id="${anchor('score')}"></a>`,
      '',
      `## ${w.scoreTitle}`,
      '',
      `| ${w.area} | ${w.item} | ${w.points} | ${w.earned} |`,
      '|---|---|---:|---:|',
      ...m.score.items.map((i) => `| ${md(i.area)} | ${md(i.item)} | ${i.points} | ${i.earned} |`),
      `| | **${w.total}** | **100** | **${m.score.total}** — ${w.grade} ${m.score.grade} |`,
      '',
      `### ${w.lostTitle}`,
      '',
    );
    const lost = m.score.items.flatMap((i) => i.lost.map((l) => ({ ...l, item: i.item })));
    if (lost.length === 0) lines.push(w.noLost);
    for (const l of lost)
      lines.push(
        `- **−${l.points} ${md(l.item)}**: ${md(l.reason)}${l.fix ? ` — ${w.fix}: ${code(l.fix)}` : ''}`,
      );
    lines.push('');
  }
  return lines.join('\n');
}

const CSS = `
body{font-family:Helvetica,Arial,'Noto Sans KR','Apple SD Gothic Neo',sans-serif;color:#222;max-width:1000px;margin:24px auto;padding:0 16px;line-height:1.45}
h1{font-size:26px;border-bottom:3px solid #1f5fa8;padding-bottom:6px}
h2{font-size:21px;margin-top:36px;border-bottom:1px solid #ccc;padding-bottom:4px}
h3{font-size:17px;margin-top:26px}
img{max-width:100%;height:auto;border:1px solid #ddd;display:block;margin:8px 0}
em{color:#555;font-size:13px}
table{border-collapse:collapse;width:100%;font-size:12.5px;margin:8px 0 16px}
th,td{border:1px solid #ddd;padding:4px 6px;vertical-align:top;text-align:left;word-break:break-word}
th{background:#f3f6fa}
code{font-size:12px;background:#f4f4f4;padding:1px 3px;border-radius:3px}
blockquote{margin:8px 0;padding:4px 12px;border-left:4px solid #b26a00;background:#fff8ec;color:#5a3d00}
@media print{body{margin:0;max-width:none}h2{break-before:page}h3,img,tr,blockquote{break-inside:avoid}a{color:inherit;text-decoration:none}}
`;

export async function renderHtml(m: HandIn, markdown: string): Promise<string> {
  const { marked } = await import('marked');
  const body = await marked.parse(markdown, { gfm: true, async: true });
  const w = words(m.lang);
  return `<!doctype html>
<html lang="${m.lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src 'self' file:; style-src 'unsafe-inline'">
<title>${md(`${w.reportTitle} — ${m.stack}`)}</title>
<style>${CSS}</style>
</head>
<body>
${body}
</body>
</html>
`;
}
