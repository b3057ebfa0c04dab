import { Button, Result } from "antd";
import { Link } from "react-router-dom";

export function NotFound() {
  return <Result status="404" title="Nothing here" subTitle="This page does not exist." extra={<Link to="/workspaces"><Button type="primary">Your workspaces</Button></Link>} />;
}
