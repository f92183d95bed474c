/// <reference types="vitest/config" />
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { svelteTesting } from '@testing-library/svelte/vite';

import { inlineIcon } from './src/lib/icon';

const ICON = fileURLToPath(new URL('../icons/icon.svg', import.meta.url));
const BOOT_LOGO_SLOT = '<!-- boot logo -->';

/** Draws the app icon inline on index.html's boot screen (see src/lib/icon.ts). */
function bootLogo(): Plugin {
  return {
    name: 'cohort-boot-logo',
    transformIndexHtml(html) {
      if (!html.includes(BOOT_LOGO_SLOT)) throw new Error(`index.html has no ${BOOT_LOGO_SLOT}`);
      return html.replace(BOOT_LOGO_SLOT, inlineIcon(readFileSync(ICON, 'utf8')));
    },
  };
}

// Relative asset paths: the same build is served by the desktop shell and by `cohort serve`.
export default defineConfig({
  base: './',
  plugins: [svelte(), svelteTesting(), bootLogo()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    chunkSizeWarningLimit: 1500,
  },
  server: { port: 5173, strictPort: false },
  test: {
    environment: 'jsdom',
    include: ['src/**/*.test.ts'],
    setupFiles: ['src/test/setup.ts'],
    // Whole-app tests take a few seconds in jsdom; more on a busy machine.
    testTimeout: 20_000,
  },
});
