import { screen, waitFor } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import CourseOutline from '../lib/views/CourseOutline.svelte';
import { mock, renderView } from './helpers';

describe('course outline', () => {
  it('shows modules, lessons and progress, and follows completion', async () => {
    const backend = mock();
    await renderView(CourseOutline, { id: backend.ids.course }, {}, backend);
    await screen.findByRole('heading', { level: 1, name: 'Rust from scratch' });
    expect(screen.getByRole('heading', { name: 'Basics' })).toBeTruthy();
    expect(screen.getByRole('heading', { name: 'Traits' })).toBeTruthy();
    expect(screen.getByRole('link', { name: 'Traits and generics' }).getAttribute('href')).toBe(`#/lesson/${backend.ids.traitsLesson}`);
    expect(screen.getByText('Your progress: 0 of 3 lessons complete')).toBeTruthy();

    await backend.call('complete_lesson', { lesson: backend.ids.borrowing, done: true });
    await screen.findByText('Your progress: 1 of 3 lessons complete');
    expect(screen.getByRole('link', { name: 'Borrowing' }).parentElement?.textContent).toContain('(complete)');
  });

  it('lets a facilitator add a lesson to a module and opens it in the editor', async () => {
    const user = userEvent.setup();
    const backend = mock();
    const { app } = await renderView(CourseOutline, { id: backend.ids.course }, {}, backend);
    await user.type(await screen.findByLabelText('New lesson in Traits'), 'Trait objects');
    await user.click(screen.getAllByRole('button', { name: 'Add lesson' })[1]);
    await waitFor(() => expect(app.route.name).toBe('edit-lesson'));
    expect(backend.callsOf('add_lesson')).toEqual([{ course: backend.ids.course, module: backend.ids.traits, title: 'Trait objects', body: '# Trait objects\n\n' }]);
  });

  it('hides editing from learners', async () => {
    const backend = mock({ role: 'learner' });
    await renderView(CourseOutline, { id: backend.ids.course }, {}, backend);
    await screen.findByRole('heading', { level: 1, name: 'Rust from scratch' });
    expect(screen.queryByRole('button', { name: 'Add lesson' })).toBeNull();
  });
});
