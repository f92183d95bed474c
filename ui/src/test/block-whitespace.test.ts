import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parse } from 'svelte/compiler';
import { describe, expect, it } from 'vitest';

// Svelte drops the whitespace at the start and end of a block's content: in
// `{name}{#if you} (you){/if}` the space goes and "Ada(you)" shows. This check finds such a
// block inside running text, where the dropped space joins two words on screen.

// Vitest runs in ui/.
const SRC = join(process.cwd(), 'src');

type Node = { type: string; start: number; end: number; data?: string; name?: string; [key: string]: unknown };
type Fragment = { nodes: Node[] };

const INLINE_ELEMENTS = new Set(['a', 'abbr', 'b', 'code', 'em', 'i', 'kbd', 'span', 'strong', 'time']);
const BRANCHES = ['consequent', 'alternate', 'body', 'fallback', 'pending', 'then', 'catch', 'fragment'];

function isInline(n: Node | undefined): boolean {
  if (!n) return false;
  return n.type === 'Text' || n.type === 'ExpressionTag' || n.type.endsWith('Block') || (n.type === 'RegularElement' && INLINE_ELEMENTS.has(n.name ?? ''));
}

/** `file:line: what` for each block whose edge whitespace Svelte would drop between words. */
function droppedSpaces(file: string, source: string): string[] {
  const found: string[] = [];
  const line = (pos: number) => source.slice(0, pos).split('\n').length;
  const visit = (fragment: Fragment | null | undefined) => {
    const nodes = fragment?.nodes ?? [];
    nodes.forEach((node, i) => {
      const isBlock = node.type.endsWith('Block');
      for (const key of BRANCHES) {
        const branch = node[key] as Fragment | null | undefined;
        if (!branch) continue;
        visit(branch);
        if (!isBlock) continue;
        const kids = branch.nodes;
        if (!kids.every(isInline) || !kids.some((k) => k.type !== 'Text' || k.data?.trim())) continue;
        const [first, last] = [kids[0], kids[kids.length - 1]];
        const prev = nodes[i - 1];
        const next = nodes[i + 1];
        const wordBefore = isInline(prev) && !(prev?.type === 'Text' && /\s$/.test(prev.data ?? ''));
        const wordAfter = isInline(next) && !(next?.type === 'Text' && /^\s/.test(next.data ?? ''));
        if (first?.type === 'Text' && /^\s/.test(first.data ?? '') && wordBefore) {
          found.push(`${file}:${line(first.start)}: the space at the start of this block is dropped`);
        }
        if (last?.type === 'Text' && /\s$/.test(last.data ?? '') && (last.data ?? '').trim() && wordAfter) {
          found.push(`${file}:${line(last.start)}: the space at the end of this block is dropped`);
        }
      }
    });
  };
  visit((parse(source, { modern: true }) as unknown as { fragment: Fragment }).fragment);
  return found;
}

function svelteFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return svelteFiles(path);
    return e.name.endsWith('.svelte') ? [path] : [];
  });
}

describe('spaces around blocks in running text', () => {
  it('finds a dropped space (the check itself)', () => {
    const bad = `<p>{name}{#if you} <span>(you)</span>{/if}</p>\n<p>{#if who}by {who} · {/if}{ago}</p>`;
    expect(droppedSpaces('x.svelte', bad)).toEqual([
      'x.svelte:1: the space at the start of this block is dropped',
      'x.svelte:2: the space at the end of this block is dropped',
    ]);
    const good = `<p>{name}{#if you}{' '}<span>(you)</span>{/if}</p>\n<p>{name}\n  {#if you}<span>(you)</span>{/if}</p>\n{#if x}\n  <div>block</div>\n{/if}`;
    expect(droppedSpaces('x.svelte', good)).toEqual([]);
  });

  it('no view or component loses one', () => {
    const files = svelteFiles(SRC);
    expect(files.length).toBeGreaterThan(10);
    const found = files.flatMap((f) => droppedSpaces(relative(SRC, f), readFileSync(f, 'utf8')));
    expect(found).toEqual([]);
  });
});
