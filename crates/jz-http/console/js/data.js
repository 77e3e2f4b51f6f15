// Reference data the views share, fetched once per page load: divisions, categories,
// departments, indicators.

import { get } from './api.js';

const cache = new Map();

function once(key, load) {
  if (!cache.has(key)) {
    const promise = load();
    cache.set(key, promise);
    promise.catch(() => cache.delete(key));
  }
  return cache.get(key);
}

export const LEVELS = ['city', 'district', 'street', 'community', 'grid'];

export function childLevel(level) {
  return LEVELS[LEVELS.indexOf(level) + 1] || null;
}

// The level of a division or grid code: 15 digits are a grid; 12-digit codes by their zeros.
export function levelOf(code) {
  if (code.length === 15) return 'grid';
  if (code.slice(9) !== '000') return 'community';
  if (code.slice(6, 9) !== '000') return 'street';
  if (code.slice(4, 6) !== '00') return 'district';
  return 'city';
}

export function division(code, geometry = false) {
  return once(`division:${code}:${geometry}`, () => get(`/divisions/${code}${geometry ? '?geometry=true' : ''}`));
}

export function grid(code) {
  return once(`grid:${code}`, () => get(`/grids/${code}`));
}

// The division's ancestors from the root down to it, each {code, name, level, generated}.
export async function pathTo(code) {
  const path = [];
  let current = code.length === 15 ? code.slice(0, 12) : code;
  while (current) {
    const view = await division(current);
    path.unshift(view);
    current = view.parent_code;
  }
  return path;
}

export async function rootCode() {
  const roots = await once('roots', () => get('/divisions?depth=0'));
  return roots[0]?.code || null;
}

export function categories() {
  return once('categories', () => get('/categories'));
}

export async function categoryName(code) {
  if (!code) return '';
  const all = await categories();
  return all.find((c) => c.code === code)?.name || code;
}

export function departments() {
  return once('departments', () => get('/departments'));
}

export function indicators() {
  return once('indicators', () => get('/indicators'));
}

// Open states: everything before closed, rejected and cancelled.
export const OPEN_STATES = ['reported', 'registered', 'dispatched', 'accepted', 'handling', 'handled', 'verified', 'suspended'];

export function isOverdue(c) {
  return c.light === 'red' || Boolean(c.clock?.overdue);
}
