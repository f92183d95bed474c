// Reports the page's first contentful paint to the app's `startup` command, as Cohort's UI
// does (ui/src/lib/perf.ts), so the desktop benchmark times both apps the same way.
new PerformanceObserver((list, observer) => {
  const fcp = list.getEntries().find((e) => e.name === 'first-contentful-paint');
  if (!fcp) return;
  observer.disconnect();
  window.__TAURI_INTERNALS__.invoke('startup', {
    marks: {
      page_at_ms: performance.timeOrigin,
      painted_at_ms: performance.timeOrigin + fcp.startTime,
      interactive_at_ms: null,
    },
  });
}).observe({ type: 'paint', buffered: true });
