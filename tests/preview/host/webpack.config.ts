/*
 * Builds the MeshWatch preview host page (not Grafana) into
 * tests/preview/host/dist with the project's own webpack + swc tooling:
 *   npm run preview:build
 *
 * The host bundles the real @grafana/data, @grafana/ui and @grafana/runtime
 * packages (and the other modules Grafana shares with plugins) and loads the
 * plugin's built dist/module.js at run time, as Grafana does. Nothing from
 * src/ is imported here: what the plugin ships is what the browser runs.
 */
import path from 'path';
import CopyWebpackPlugin from 'copy-webpack-plugin';
import TerserPlugin from 'terser-webpack-plugin';
import type { Configuration } from 'webpack';
import { GrafanaIconsPlugin } from './icons';

const hostDir = path.resolve(process.cwd(), 'tests', 'preview', 'host');
const nodeModules = path.resolve(process.cwd(), 'node_modules');
const runtimeEsm = path.join(nodeModules, '@grafana', 'runtime', 'dist', 'esm');

const config = (env: Record<string, unknown> = {}): Configuration => ({
  mode: env.development ? 'development' : 'production',
  context: hostDir,
  entry: { host: './src/index.tsx' },
  devtool: false,
  target: 'web',
  output: {
    path: path.join(hostDir, 'dist'),
    publicPath: '/public/preview-host/',
    filename: '[name].js',
    chunkFilename: '[name].[contenthash].js',
    clean: true,
    uniqueName: 'meshwatch-preview-host',
  },
  resolve: {
    extensions: ['.ts', '.tsx', '.mjs', '.js', '.jsx'],
    alias: {
      // Setters Grafana core reaches through @grafana/runtime's internal
      // entry point, which the published package does not export. These are
      // the same module files the package index re-exports, so the setters
      // change what plugins get from @grafana/runtime.
      'preview-internal/plugin-page$': path.join(runtimeEsm, 'components', 'PluginPage.mjs'),
      'preview-internal/panel-renderer$': path.join(runtimeEsm, 'components', 'PanelRenderer.mjs'),
      'preview-internal/plugin-links$': path.join(
        runtimeEsm,
        'services',
        'pluginExtensions',
        'getObservablePluginLinks.mjs'
      ),
      'preview-internal/plugin-components$': path.join(
        runtimeEsm,
        'services',
        'pluginExtensions',
        'getObservablePluginComponents.mjs'
      ),
    },
  },
  module: {
    rules: [
      {
        test: /\.m?js$/,
        resolve: { fullySpecified: false },
      },
      {
        test: /\.[jt]sx?$/,
        exclude: /node_modules/,
        use: {
          loader: 'swc-loader',
          options: {
            jsc: {
              target: 'es2018',
              parser: { syntax: 'typescript', tsx: true, dynamicImport: true },
              transform: { react: { runtime: 'automatic' } },
            },
          },
        },
      },
      { test: /\.css$/, use: ['style-loader', 'css-loader'] },
      { test: /\.(png|jpe?g|gif|svg|woff2?|ttf|eot)$/, type: 'asset/resource' },
    ],
  },
  optimization: {
    minimize: !env.development,
    minimizer: [new TerserPlugin({ minify: TerserPlugin.swcMinify, extractComments: false })],
  },
  performance: { hints: false },
  plugins: [
    new GrafanaIconsPlugin(nodeModules),
    new CopyWebpackPlugin({
      patterns: [
        { from: path.join(hostDir, 'index.html'), to: 'index.html' },
        // Grafana serves @grafana/ui's icons from public/build/img/icons and
        // its fonts from public/fonts; the preview server maps those paths here.
        { from: path.join(nodeModules, '@grafana', 'ui', 'dist', 'public', 'img', 'icons'), to: 'build/img/icons' },
        { from: path.join(nodeModules, 'inter-ui', 'web', 'Inter-Regular.woff2'), to: 'fonts/inter/' },
        { from: path.join(nodeModules, 'inter-ui', 'web', 'Inter-Italic.woff2'), to: 'fonts/inter/' },
        { from: path.join(nodeModules, 'inter-ui', 'web', 'Inter-Medium.woff2'), to: 'fonts/inter/' },
        { from: path.join(nodeModules, 'inter-ui', 'web', 'Inter-MediumItalic.woff2'), to: 'fonts/inter/' },
        {
          from: path.join(nodeModules, '@fontsource', 'roboto-mono', 'files', 'roboto-mono-latin-400-normal.woff2'),
          to: 'fonts/roboto/L0xTDF4xlVMF-BfR8bXMIhJHg45mwgGEFl0_3vrtSM1J-gEPT5Ese6hmHSh0mQ.woff2',
        },
      ],
    }),
  ],
  stats: 'errors-warnings',
});

export default config;
