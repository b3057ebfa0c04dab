import { Button, Result } from "antd";
import { useHref, useLinkClickHandler } from "react-router-dom";

export function NotFound() {
  // A link drawn as a button rather than a button inside a link: one stop for the keyboard, and it
  // opens in a new tab like any link.
  const href = useHref("/workspaces");
  const follow = useLinkClickHandler<HTMLElement>("/workspaces");
  return (
    <Result
      status="404"
      title="Nothing here"
      subTitle="This page does not exist."
      extra={
        <Button type="primary" href={href} onClick={follow}>
          Your workspaces
        </Button>
      }
    />
  );
}
