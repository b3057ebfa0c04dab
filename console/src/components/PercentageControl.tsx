import { InputNumber, Slider, Space, Typography } from "antd";

/** Clamp a requested share of users to what a publish may ask: whole numbers from `min` to 100. */
export function clampPercentage(value: number | null | undefined, min = 1): number {
  if (value === null || value === undefined || Number.isNaN(value)) return min;
  return Math.min(100, Math.max(min, Math.round(value)));
}

/** The share of users a launch is published to; below 100 is a grayscale release. A grayscale
 * launch can only widen, so `min` is its current percentage. */
export function PercentageControl({ value, onChange, min = 1 }: { value: number; onChange: (value: number) => void; min?: number }) {
  const set = (next: number | null) => onChange(clampPercentage(next, min));
  return (
    <div>
      <Space style={{ width: "100%" }} align="center">
        <Slider min={min} max={100} value={value} onChange={set} style={{ width: 260 }} aria-label="Percentage slider" />
        <InputNumber min={min} max={100} value={value} onChange={set} suffix="%" aria-label="Percentage of users" />
      </Space>
      <Typography.Text type={value === 100 ? "success" : "warning"} data-testid="percentage-meaning">
        {value === 100 ? "Full release: every user of the app gets this version." : `Grayscale: about ${value}% of users get this version.`}
      </Typography.Text>
    </div>
  );
}
