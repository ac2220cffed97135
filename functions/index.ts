/**
 * The Functions app: its startup (the activities' context factory), then every module that registers functions,
 * imported once. Keep it a plain list of imports.
 */
import './startup.js';
import './orchestrations.js';
import './activities.js';
import './http-alerts.js';
import './http-investigations.js';
