// MapLibre without any network: a style of a plain background plus the GeoJSON layers the views
// add; no tiles, glyphs or sprites (labels are HTML markers). Also the hatch pattern that marks
// generated boundaries, and the `data-idle` flag browser tests wait on.

import * as maplibregl from '../vendor/maplibre-gl.mjs';

export { maplibregl };

export const EMPTY = { type: 'FeatureCollection', features: [] };

const STYLE = {
  version: 8,
  sources: {},
  layers: [{ id: 'background', type: 'background', paint: { 'background-color': '#eef1f4' } }],
};

// A map in `container`; resolves once its style is loaded and the hatch image is registered.
export function createMap(container, options = {}) {
  container.dataset.idle = 'false';
  const map = new maplibregl.Map({
    container,
    style: STYLE,
    center: options.center || [121.47, 31.23],
    zoom: options.zoom ?? 9,
    attributionControl: false,
    dragRotate: false,
    pitchWithRotate: false,
    maxPitch: 0,
    fadeDuration: 0,
  });
  map.touchZoomRotate.disableRotation();
  if (options.controls !== false) {
    map.addControl(new maplibregl.NavigationControl({ showCompass: false }), 'top-right');
    map.addControl(new maplibregl.ScaleControl({ unit: 'metric' }), 'bottom-left');
  }
  return new Promise((resolve) => {
    map.on('load', () => {
      map.addImage('hatch', hatchPattern(), { pixelRatio: 2 });
      resolve(map);
    });
  });
}

// Diagonal stripes, 16×16 device pixels, for generated (non-official) boundaries.
function hatchPattern() {
  const size = 16;
  const data = new Uint8Array(size * size * 4);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const on = (x + y) % 8 < 2;
      const i = (y * size + x) * 4;
      data.set(on ? [120, 90, 160, 150] : [0, 0, 0, 0], i);
    }
  }
  return { width: size, height: size, data };
}

// Marks the map busy now and idle at its next `idle` event (after the caller's changes are
// applied): what tests wait on instead of sleeping.
export function settle(map) {
  const container = map.getContainer();
  container.dataset.idle = 'false';
  map.once('idle', () => {
    container.dataset.idle = 'true';
  });
  map.triggerRepaint();
}

// The bounding box [[minLon, minLat], [maxLon, maxLat]] of a GeoJSON geometry or feature list.
export function bbox(geometries) {
  let minX = Infinity;
  let minY = Infinity;
  let maxX = -Infinity;
  let maxY = -Infinity;
  const visit = (coords) => {
    if (typeof coords[0] === 'number') {
      minX = Math.min(minX, coords[0]);
      maxX = Math.max(maxX, coords[0]);
      minY = Math.min(minY, coords[1]);
      maxY = Math.max(maxY, coords[1]);
    } else coords.forEach(visit);
  };
  for (const geometry of [geometries].flat()) {
    if (geometry?.coordinates) visit(geometry.coordinates);
  }
  return Number.isFinite(minX) ? [[minX, minY], [maxX, maxY]] : null;
}

// A point inside-ish of a polygon for its label: the centre of its box.
export function labelPoint(geometry) {
  const box = bbox(geometry);
  return box ? [(box[0][0] + box[1][0]) / 2, (box[0][1] + box[1][1]) / 2] : null;
}
