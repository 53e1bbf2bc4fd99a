import React from 'react';
import { Navigate, Route, Routes } from 'react-router-dom';
import { AppRootProps } from '@grafana/data';
import { ROUTES } from '../../constants';

const Incidents = React.lazy(() => import('../../pages/Incidents'));
const Canaries = React.lazy(() => import('../../pages/Canaries'));
const Audit = React.lazy(() => import('../../pages/Audit'));

/** The app's routes under /a/meshwatch-mesh-app. */
function App(_props: AppRootProps) {
  return (
    <Routes>
      <Route path={ROUTES.Incidents} element={<Incidents />} />
      <Route path={ROUTES.Canaries} element={<Canaries />} />
      <Route path={ROUTES.Audit} element={<Audit />} />
      <Route path="*" element={<Navigate to={ROUTES.Incidents} replace />} />
    </Routes>
  );
}

export default App;
