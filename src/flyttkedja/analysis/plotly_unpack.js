// Unpacks the plotly.js that flyttkedja.analysis.charts.plotly_bundle inlines (<script id="plotly-js">:
// base64 of gzip) with the browser's DecompressionStream and runs it as an inline script: no request.
// window.flyttkedjaPlotly() returns one shared promise of window.Plotly, so a page that draws with it
// from several scripts (the report and its scenario explorer) unpacks it once.
"use strict";
window.flyttkedjaPlotly = function () {
  if (!window.__flyttkedjaPlotly) {
    window.__flyttkedjaPlotly = (async () => {
      if (window.Plotly) return window.Plotly;
      if (!("DecompressionStream" in window)) throw new Error("this browser cannot unpack the charts");
      const packed = document.getElementById("plotly-js").textContent;
      const bytes = Uint8Array.from(atob(packed), (c) => c.charCodeAt(0));
      const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
      const script = document.createElement("script");
      script.textContent = await new Response(stream).text();
      document.head.appendChild(script);
      return window.Plotly;
    })();
  }
  return window.__flyttkedjaPlotly;
};
