import { createElement } from 'react';

/** The root layout Next requires; this app serves only route handlers. */
export default function RootLayout({ children }) {
  return createElement('html', { lang: 'en' }, createElement('body', null, children));
}
