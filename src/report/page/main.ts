import type { ReportData } from '../report-data.js';
import { explorerPanel } from './explorer.js';
import { layerBarsPanel } from './layer-bars.js';
import { summaryPanel } from './summary.js';
import { wastePanel } from './waste-panel.js';

/**
 * The report page's script: reads the data embedded beside it and draws every panel.
 * When it is done, `body[data-ready="1"]` and `window.reportReadyAt` (ms since the page
 * started loading) say so, for the browser tests and the benchmark.
 */
const data = JSON.parse(document.getElementById('report-data')!.textContent!) as ReportData;
document.getElementById('report')!.append(summaryPanel(data), layerBarsPanel(data), wastePanel(data), explorerPanel(data));
(window as unknown as { reportReadyAt: number }).reportReadyAt = performance.now();
document.body.dataset.ready = '1';
