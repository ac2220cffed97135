/** The Functions app: every module that registers functions, imported once. Keep it a plain list of imports. */
import './orchestrations.js';
import './activities.js';
import './http-alerts.js';
import './http-investigations.js';
