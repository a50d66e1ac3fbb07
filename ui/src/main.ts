import { mount } from 'svelte';
import './app.css';
import App from './App.svelte';
import { tauriApi } from './lib/tauri';
import { quietIsolationFrame } from './lib/isolation-frame';

quietIsolationFrame();
const target = document.getElementById('app');
if (target) mount(App, { target, props: { api: tauriApi() } });
