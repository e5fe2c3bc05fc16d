// The call's icons, drawn like util/dom.js's (static markup only).

import { icon, pathIcon } from "../util/dom.js";

const PATHS = {
  mic: "M12 3a3 3 0 0 0-3 3v6a3 3 0 0 0 6 0V6a3 3 0 0 0-3-3ZM19 11a7 7 0 0 1-14 0M12 18v3M8 21h8",
  micOff: "M15 9.4V6a3 3 0 0 0-5.7-1.3M9 9v3a3 3 0 0 0 5.1 2.1M19 11a7 7 0 0 1-1.2 3.9M5 11a7 7 0 0 0 11.3 5.5M12 18v3M8 21h8M3 3l18 18",
  video: "M3 7a1 1 0 0 1 1-1h10a1 1 0 0 1 1 1v10a1 1 0 0 1-1 1H4a1 1 0 0 1-1-1V7ZM15 10.5 21 7v10l-6-3.5",
  videoOff: "M8 6h6a1 1 0 0 1 1 1v6M15 10.5 21 7v10l-3.5-2M15 17a1 1 0 0 1-1 1H4a1 1 0 0 1-1-1V7a1 1 0 0 1 1-1M3 3l18 18",
  screen: "M3 5a1 1 0 0 1 1-1h16a1 1 0 0 1 1 1v10a1 1 0 0 1-1 1H4a1 1 0 0 1-1-1V5ZM8 20h8M12 16v4M12 13V7M9 10l3-3 3 3",
  screenOff: "M3 5a1 1 0 0 1 1-1h16a1 1 0 0 1 1 1v10a1 1 0 0 1-1 1H4a1 1 0 0 1-1-1V5ZM8 20h8M12 16v4M9.5 7.5l5 5M14.5 7.5l-5 5",
  hangup: "M3.6 14.1c4.7-4.2 12.1-4.2 16.8 0a1.3 1.3 0 0 1 0 1.9l-1.7 1.6a1.3 1.3 0 0 1-1.7.1l-2-1.5a1.3 1.3 0 0 1-.5-1v-1.8a9.3 9.3 0 0 0-5 0v1.8a1.3 1.3 0 0 1-.5 1l-2 1.5a1.3 1.3 0 0 1-1.7-.1L3.6 16a1.3 1.3 0 0 1 0-1.9Z",
  expand: "M4 9V4h5M20 9V4h-5M4 15v5h5M20 15v5h-5",
  collapse: "M9 4v5H4M15 4v5h5M9 20v-5H4M15 20v-5h5",
  speaker: "M4 9h4l5-4v14l-5-4H4V9ZM17 9a4 4 0 0 1 0 6M19.5 6.5a8 8 0 0 1 0 11",
  signal: "M4 20v-3M9 20v-7M14 20V9M19 20V5",
  info: "M12 21a9 9 0 1 0 0-18 9 9 0 0 0 0 18ZM12 11v5M12 8h.01",
  alert: "M12 4 2.5 20h19L12 4ZM12 10v4.5M12 17.5h.01",
};

/** A call icon, or util/dom.js's icon of that name. */
export function callIcon(name, label) {
  return name in PATHS ? pathIcon(PATHS[name], label) : icon(name, label);
}
