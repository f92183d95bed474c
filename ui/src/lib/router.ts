// Hash routes, so the same static build works from Tauri's asset protocol and from
// `cohort serve` without server-side routing.

import type { DocId, SpaceId } from './bindings';

/** Every screen of the app. */
export type Route =
  | { name: 'start' }
  | { name: 'welcome' }
  | { name: 'home'; space: SpaceId }
  | { name: 'courses'; space: SpaceId }
  | { name: 'course'; id: DocId }
  | { name: 'lesson'; id: DocId; thread?: DocId }
  | { name: 'edit-lesson'; id: DocId }
  | { name: 'threads'; space: SpaceId }
  | { name: 'thread'; id: DocId; post?: string }
  | { name: 'notes'; space: SpaceId }
  | { name: 'note'; id: DocId }
  | { name: 'journal'; id?: DocId }
  | { name: 'sync' }
  | { name: 'history'; id: DocId };

const ID = /^[0-9a-f]{32}$/;

/** Parses `#/...` (or an empty hash) into a route; unknown paths go to the start. */
export function parseRoute(hash: string): Route {
  const path = hash.replace(/^#/, '').replace(/^\//, '');
  const [a, b, c, d] = path.split('/').map((p) => decodeURIComponent(p));
  const id = (x: string | undefined) => (x && ID.test(x) ? x : null);
  switch (a) {
    case 'welcome':
      return { name: 'welcome' };
    case 'space': {
      const space = id(b);
      if (!space) break;
      if (c === 'courses') return { name: 'courses', space };
      if (c === 'threads') return { name: 'threads', space };
      if (c === 'notes') return { name: 'notes', space };
      return { name: 'home', space };
    }
    case 'course':
      if (id(b)) return { name: 'course', id: b };
      break;
    case 'lesson':
      if (id(b)) {
        if (c === 'edit') return { name: 'edit-lesson', id: b };
        if (c === 'thread' && id(d)) return { name: 'lesson', id: b, thread: d };
        return { name: 'lesson', id: b };
      }
      break;
    case 'thread':
      if (id(b)) return c ? { name: 'thread', id: b, post: c } : { name: 'thread', id: b };
      break;
    case 'note':
      if (id(b)) return { name: 'note', id: b };
      break;
    case 'journal':
      return id(b) ? { name: 'journal', id: b } : { name: 'journal' };
    case 'sync':
      return { name: 'sync' };
    case 'history':
      if (id(b)) return { name: 'history', id: b };
      break;
    default:
  }
  return { name: 'start' };
}

/** The `#/...` address of a route. */
export function routeHref(r: Route): string {
  switch (r.name) {
    case 'start':
      return '#/';
    case 'welcome':
      return '#/welcome';
    case 'home':
      return `#/space/${r.space}`;
    case 'courses':
    case 'threads':
    case 'notes':
      return `#/space/${r.space}/${r.name}`;
    case 'course':
      return `#/course/${r.id}`;
    case 'lesson':
      return r.thread ? `#/lesson/${r.id}/thread/${r.thread}` : `#/lesson/${r.id}`;
    case 'edit-lesson':
      return `#/lesson/${r.id}/edit`;
    case 'thread':
      return r.post ? `#/thread/${r.id}/${r.post}` : `#/thread/${r.id}`;
    case 'note':
      return `#/note/${r.id}`;
    case 'journal':
      return r.id ? `#/journal/${r.id}` : '#/journal';
    case 'sync':
      return '#/sync';
    case 'history':
      return `#/history/${r.id}`;
  }
}
