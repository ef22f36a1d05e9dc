import { render } from 'preact';
import type { StudioSettings } from '../../src/api/studio/studio-settings.ts';
import { App } from './app.tsx';

const settingsElement = document.getElementById('studio-settings');
const settings = JSON.parse(settingsElement?.textContent ?? '{}') as Partial<StudioSettings>;
const root = document.getElementById('studio');
if (root) render(<App settings={{ signup: settings.signup === true }} />, root);
