// The connection badge colours, as the Rust side names them (src-tauri connections.rs
// COLOURS). None is the accent's blue, so a badge never reads as a plain control.
export interface BadgeColour { id: string; label: string; hue: number; sat: number }

export const COLOURS: BadgeColour[] = [
  { id: 'green', label: 'Green', hue: 140, sat: 60 },
  { id: 'teal', label: 'Teal', hue: 178, sat: 60 },
  { id: 'purple', label: 'Purple', hue: 275, sat: 55 },
  { id: 'amber', label: 'Amber', hue: 42, sat: 85 },
  { id: 'orange', label: 'Orange', hue: 24, sat: 85 },
  { id: 'red', label: 'Red', hue: 0, sat: 75 },
  { id: 'grey', label: 'Grey', hue: 220, sat: 0 },
];

export function colourOf(id: string | null | undefined): BadgeColour {
  return COLOURS.find((c) => c.id === id) ?? COLOURS[COLOURS.length - 1];
}

/** A colour no connection in `used` has (the least used one when all are taken), so a
 * new connection's badge is never mistaken for another's. */
export function unusedColour(used: string[]): string {
  const count = (id: string) => used.filter((u) => u === id).length;
  return [...COLOURS].sort((a, b) => count(a.id) - count(b.id))[0].id;
}
