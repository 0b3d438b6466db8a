import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

const here = fileURLToPath(new URL('.', import.meta.url));

/**
 * The dashboard's build: everything bundled into hashed files under dist/web, which Rampart
 * serves (src/web/web.routes.ts) under its strict CSP, so nothing may be inlined into index.html.
 */
export default defineConfig({
  root: here,
  plugins: [react()],
  base: '/',
  build: {
    outDir: fileURLToPath(new URL('../dist/web', import.meta.url)),
    emptyOutDir: true,
    // Never inline small files as data: URLs into scripts or styles; keep every asset a file.
    assetsInlineLimit: 0,
    // The preload polyfill is not needed by the browsers Rampart supports.
    modulePreload: { polyfill: false },
    sourcemap: false,
    reportCompressedSize: false,
  },
  logLevel: 'warn',
});
