// esbuild bundles imported CSS into out/renderer/app.css
declare module '*.css';
