import { useSearchParams } from "react-router-dom";

/** A page's choice (a tab, a filter) kept in the URL's query, so that a reload, the back button or
 * a shared link shows the same view; `undefined` removes it. The history is not grown by it. */
export function useUrlState(name: string, fallback: string): [string, (value: string | undefined) => void] {
  const [params, setParams] = useSearchParams();
  const set = (value: string | undefined) =>
    setParams(
      (current) => {
        const next = new URLSearchParams(current);
        if (value === undefined || value === fallback) next.delete(name);
        else next.set(name, value);
        return next;
      },
      { replace: true },
    );
  return [params.get(name) ?? fallback, set];
}
