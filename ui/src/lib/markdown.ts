// Markdown for reading: markdown-it with raw HTML disabled (so a document can never inject
// markup), plus two passes over the rendered DOM: passages that threads are anchored to become
// <mark> elements, and @mentions of members are highlighted.

import MarkdownIt from 'markdown-it';

const md = new MarkdownIt({ html: false, linkify: true, breaks: false, typographer: false });

// External links open outside the app window.
const defaultLinkOpen =
  md.renderer.rules.link_open ?? ((tokens, idx, options, _env, self) => self.renderToken(tokens, idx, options));
md.renderer.rules.link_open = (tokens, idx, options, env, self) => {
  const token = tokens[idx];
  token.attrSet('target', '_blank');
  token.attrSet('rel', 'noopener noreferrer');
  return defaultLinkOpen(tokens, idx, options, env, self);
};

/** A passage of the Markdown source to highlight: `[start, end)` in UTF-16 code units. */
export interface Highlight {
  id: string;
  start: number;
  end: number;
}

/** What to do besides rendering. */
export interface RenderOptions {
  highlights?: readonly Highlight[];
  /**
   * The level the document's top headings get (default 1: as written). Markdown shown inside
   * a page under its own h1 passes 2, so the page keeps exactly one h1 and the outline stays
   * in order: every heading moves down by the same number of levels (at most to h6).
   */
  baseLevel?: number;
  /**
   * Leaves out a leading heading with this text (the page already shows it as its title),
   * unless it holds a highlighted passage.
   */
  dropTitle?: string;
  /** Display names that `@Name` mentions may refer to. */
  mentions?: readonly string[];
  /** Your own name: mentions of you get an extra class. */
  me?: string;
}

const START_BASE = 0xe000;
const END_BASE = 0xe800;
const MAX_HIGHLIGHTS = 0x800;
const MARKER = /[\ue000-\uefff]/;
const MARKERS = /[\ue000-\uefff]/g;
// A private-use marker percent-encoded inside a link target.
const ENCODED_MARKERS = /%EE%[89AB][0-9A-F]%[89AB][0-9A-F]/gi;

// Link targets, autolinks and bare URLs: a marker inside one would change the link (or be
// encoded into its host name), so markers are moved to their edges.
const LINK_TARGETS = /\]\([^)]*\)|<[a-z][a-z0-9+.-]*:[^>\s]*>|\b(?:https?:\/\/|www\.)[^\s<]+/gi;

function linkRanges(src: string): Array<[number, number]> {
  return [...src.matchAll(LINK_TARGETS)].map((m) => [m.index, m.index + m[0].length]);
}

function outsideLinks(at: number, ranges: ReadonlyArray<[number, number]>, isStart: boolean): number {
  for (const [a, b] of ranges) {
    // The `]` of `](url)` itself is fine to precede; anything after it up to `)` is not.
    if (at > a && at < b) return isStart ? b : a;
  }
  return at;
}

function insertMarkers(src: string, highlights: readonly Highlight[]): string {
  const cuts: Array<{ at: number; mark: string; order: number }> = [];
  const links = linkRanges(src);
  highlights.slice(0, MAX_HIGHLIGHTS).forEach((h, i) => {
    const start = outsideLinks(Math.max(0, Math.min(h.start, src.length)), links, true);
    const end = Math.max(start, outsideLinks(Math.min(h.end, src.length), links, false));
    if (end <= start) return;
    cuts.push({ at: start, mark: String.fromCharCode(START_BASE + i), order: 1 });
    cuts.push({ at: end, mark: String.fromCharCode(END_BASE + i), order: 0 });
  });
  // Insert from the end so earlier offsets stay valid; at one offset, ends before starts.
  cuts.sort((a, b) => b.at - a.at || b.order - a.order);
  let out = src;
  for (const c of cuts) out = out.slice(0, c.at) + c.mark + out.slice(c.at);
  return out;
}

function wrapHighlights(root: HTMLElement, highlights: readonly Highlight[]): void {
  const doc = root.ownerDocument;
  const open = new Set<number>();
  const walker = doc.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  const texts: Text[] = [];
  for (let n = walker.nextNode(); n; n = walker.nextNode()) texts.push(n as Text);
  for (const node of texts) {
    const value = node.data;
    if (!MARKER.test(value) && open.size === 0) continue;
    const frag = doc.createDocumentFragment();
    let buf = '';
    const flush = () => {
      if (!buf) return;
      if (open.size === 0) {
        frag.append(doc.createTextNode(buf));
      } else {
        const mark = doc.createElement('mark');
        const ids = [...open].map((i) => highlights[i].id);
        mark.className = 'anchor';
        mark.dataset.threads = ids.join(' ');
        mark.append(doc.createTextNode(buf));
        frag.append(mark);
      }
      buf = '';
    };
    for (const ch of value) {
      const code = ch.charCodeAt(0);
      if (code >= START_BASE && code < START_BASE + MAX_HIGHLIGHTS) {
        flush();
        open.add(code - START_BASE);
      } else if (code >= END_BASE && code < END_BASE + MAX_HIGHLIGHTS) {
        flush();
        open.delete(code - END_BASE);
      } else {
        buf += ch;
      }
    }
    flush();
    node.replaceWith(frag);
  }
  // Markers that landed inside attributes (a link target, an image's alt text) are dropped.
  for (const el of root.querySelectorAll('*')) {
    for (const attr of [...el.attributes]) {
      if (MARKER.test(attr.value) || ENCODED_MARKERS.test(attr.value)) {
        el.setAttribute(attr.name, attr.value.replace(MARKERS, '').replace(ENCODED_MARKERS, ''));
      }
      ENCODED_MARKERS.lastIndex = 0;
    }
  }
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function wrapMentions(root: HTMLElement, names: readonly string[], me?: string): void {
  const usable = [...new Set(names.filter((n) => n.trim()))].sort((a, b) => b.length - a.length);
  if (usable.length === 0) return;
  const re = new RegExp(`@(${usable.map(escapeRegExp).join('|')})(?![\\p{L}\\p{N}_])`, 'gu');
  const doc = root.ownerDocument;
  const walker = doc.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  const texts: Text[] = [];
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    if ((n.parentElement?.closest('code, pre, a') ?? null) === null) texts.push(n as Text);
  }
  for (const node of texts) {
    const value = node.data;
    re.lastIndex = 0;
    if (!re.test(value)) continue;
    re.lastIndex = 0;
    const frag = doc.createDocumentFragment();
    let at = 0;
    for (const m of value.matchAll(re)) {
      frag.append(doc.createTextNode(value.slice(at, m.index)));
      const span = doc.createElement('span');
      span.className = m[1] === me ? 'mention mention-me' : 'mention';
      span.textContent = m[0];
      frag.append(span);
      at = m.index + m[0].length;
    }
    frag.append(doc.createTextNode(value.slice(at)));
    node.replaceWith(frag);
  }
}

type Token = ReturnType<typeof md.parse>[number];

function headingLevel(t: Token): number {
  return Number(t.tag.slice(1));
}

function normalize(text: string): string {
  return text.replace(/\s+/g, ' ').trim().toLowerCase();
}

/** Drops a leading title heading and moves headings down to `baseLevel`, in place. */
function adjustHeadings(tokens: Token[], options: RenderOptions): Token[] {
  let out = tokens;
  const [open, inline, close] = out;
  if (
    options.dropTitle !== undefined &&
    open?.type === 'heading_open' &&
    inline?.type === 'inline' &&
    close?.type === 'heading_close' &&
    !MARKER.test(inline.content) &&
    normalize(inline.content) === normalize(options.dropTitle)
  ) {
    out = out.slice(3);
  }
  const base = options.baseLevel ?? 1;
  const levels = out.filter((t) => t.type === 'heading_open').map(headingLevel);
  if (levels.length && base > 1) {
    const shift = Math.max(0, base - Math.min(...levels));
    if (shift > 0) {
      for (const t of out) {
        if (t.type === 'heading_open' || t.type === 'heading_close') t.tag = `h${Math.min(6, headingLevel(t) + shift)}`;
      }
    }
  }
  return out;
}

/** Renders Markdown to HTML that is safe to insert (no raw HTML from the source). */
export function renderMarkdown(src: string, options: RenderOptions = {}): string {
  const highlights = options.highlights ?? [];
  const env = {};
  const tokens = adjustHeadings(md.parse(highlights.length ? insertMarkers(src, highlights) : src, env), options);
  const html = md.renderer.render(tokens, md.options, env);
  // The DOM passes parse and re-serialize the HTML: only when there is something to mark.
  const mentions = options.mentions?.length && src.includes('@') ? options.mentions : null;
  if (highlights.length === 0 && !mentions) return html;
  const root = document.createElement('div');
  root.innerHTML = html;
  if (highlights.length) wrapHighlights(root, highlights);
  if (mentions) wrapMentions(root, mentions, options.me);
  return root.innerHTML;
}
