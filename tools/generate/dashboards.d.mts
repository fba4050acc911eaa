/** Writes chart/dashboards' JSON files into outDir; returns their paths. */
export function writeDashboards(outDir: string): string[];
