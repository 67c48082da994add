/** Types of the parser the metrics tests read `/control-plane/metrics` with (the package ships none). */
declare module "parse-prometheus-text-format" {
  export type ParsedFamily = {
    name: string;
    help: string;
    type: "COUNTER" | "GAUGE" | "HISTOGRAM" | "SUMMARY" | "UNTYPED";
    metrics: Array<{ labels?: Record<string, string>; value: string }>;
  };
  export default function parsePrometheusTextFormat(text: string): ParsedFamily[];
}
