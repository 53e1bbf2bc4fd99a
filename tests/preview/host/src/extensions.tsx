/*
 * UI extensions: the links, components and functions the plugin registers
 * with AppPlugin.addLink / addComponent / addFunction / exposeComponent,
 * offered to extension points the way Grafana's registry does:
 *   - a link is offered only if plugin.json's extensions.addedLinks declares
 *     it (same title, the target listed), as Grafana >= 11.4 requires;
 *   - configure(context) gets a frozen copy of the context; undefined hides
 *     the link; it may override title, description, path, icon, category;
 *   - a path must start with /a/<pluginId>/;
 *   - onClick(event, {context, extensionPointId, openModal, ...});
 *   - at most limitPerPlugin links per plugin.
 */
import React, { useEffect, useMemo, useState } from 'react';
import { of } from 'rxjs';
import {
  type AppPlugin,
  type ComponentTypeWithExtensionMeta,
  type PluginExtensionAddedLinkConfig,
  type PluginExtensionComponent,
  type PluginExtensionEventHelpers,
  type PluginExtensionFunction,
  type PluginExtensionLink,
  type PluginExtensionOpenModalOptions,
  PluginContextProvider,
  PluginExtensionTypes,
  dateTime,
  isDateTime,
} from '@grafana/data';
import {
  setPluginComponentHook,
  setPluginComponentsHook,
  setPluginFunctionsHook,
  setPluginLinksHook,
} from '@grafana/runtime';
import { css } from '@emotion/css';
import { Modal } from '@grafana/ui';
import { setGetObservablePluginLinks } from 'preview-internal/plugin-links';
import { setGetObservablePluginComponents } from 'preview-internal/plugin-components';
import type { PluginJson } from './boot';

let app: AppPlugin | undefined;
let declared: PluginJson['extensions'];
const listeners = new Set<() => void>();

/** Registers the loaded app plugin's extensions (once module.js has loaded). */
export function registerAppExtensions(plugin: AppPlugin, pluginJson: PluginJson) {
  app = plugin;
  declared = pluginJson.extensions;
  listeners.forEach((l) => l());
}

function useRegistryVersion() {
  const [version, setVersion] = useState(0);
  useEffect(() => {
    const l = () => setVersion((v) => v + 1);
    listeners.add(l);
    return () => {
      listeners.delete(l);
    };
  }, []);
  return version;
}

function targetsOf(targets: string | string[]): string[] {
  return Array.isArray(targets) ? targets : [targets];
}

const isProxy = Symbol('preview-read-only');

/**
 * A read-only view of the context handed to a plugin, as Grafana does it:
 * writes are refused, nested objects are wrapped too, and DateTime values are
 * handed out as copies. The host's own objects are never frozen.
 */
function readOnly<T>(value: T): T {
  if (!value || typeof value !== 'object' || (value as Record<symbol, unknown>)[isProxy]) {
    return value;
  }
  const cache = new WeakMap<object, unknown>();
  return new Proxy(value as object, {
    set: (_t, prop) => {
      console.warn(`[preview host] a plugin tried to change the read-only extension context (${String(prop)})`);
      return true;
    },
    defineProperty: () => true,
    deleteProperty: () => true,
    get: (target, prop, receiver) => {
      if (prop === isProxy) {
        return true;
      }
      const v = Reflect.get(target, prop, receiver);
      const desc = Reflect.getOwnPropertyDescriptor(target, prop);
      if (desc && !desc.configurable && !desc.writable) {
        return v;
      }
      if (isDateTime(v)) {
        return dateTime(v);
      }
      if (v && typeof v === 'object') {
        if (!cache.has(v)) {
          cache.set(v, readOnly(v));
        }
        return cache.get(v);
      }
      return v;
    },
  }) as T;
}

function isDeclared(config: PluginExtensionAddedLinkConfig, extensionPointId: string): boolean {
  const meta = declared?.addedLinks?.find((l) => l.title === config.title);
  return !!meta && meta.targets.includes(extensionPointId);
}

// --- modals ------------------------------------------------------------------

interface OpenModal extends PluginExtensionOpenModalOptions {
  key: number;
}
let modal: OpenModal | undefined;
let modalKey = 0;
const modalListeners = new Set<() => void>();

function openModal(options: PluginExtensionOpenModalOptions) {
  modal = { ...options, key: ++modalKey };
  modalListeners.forEach((l) => l());
}

function closeModal() {
  modal = undefined;
  modalListeners.forEach((l) => l());
}

/** Renders the modal a link's onClick opened, inside the plugin's context, as Grafana does. */
export function ExtensionModalHost() {
  const [, setTick] = useState(0);
  useEffect(() => {
    const l = () => setTick((t) => t + 1);
    modalListeners.add(l);
    return () => {
      modalListeners.delete(l);
    };
  }, []);
  if (!modal || !app) {
    return null;
  }
  const Body = modal.body;
  return (
    <PluginContextProvider meta={app.meta}>
      <Modal
        key={modal.key}
        title={modal.title}
        isOpen
        onDismiss={closeModal}
        className={css({ width: modal.width ?? '60%', height: modal.height })}
      >
        <Body onDismiss={closeModal} />
      </Modal>
    </PluginContextProvider>
  );
}

// --- links -------------------------------------------------------------------

export function getPluginLinks({
  extensionPointId,
  context,
  limitPerPlugin,
}: {
  extensionPointId: string;
  context?: object;
  limitPerPlugin?: number;
}): PluginExtensionLink[] {
  if (!app) {
    return [];
  }
  const pluginId = app.meta.id;
  const frozen = readOnly(context);
  const links: PluginExtensionLink[] = [];
  app.addedLinkConfigs.forEach((config, index) => {
    if (!targetsOf(config.targets).includes(extensionPointId)) {
      return;
    }
    if (limitPerPlugin !== undefined && links.length >= limitPerPlugin) {
      return;
    }
    if (!isDeclared(config, extensionPointId)) {
      console.warn(
        `[preview host] link "${config.title}" for ${extensionPointId} is not declared in plugin.json extensions.addedLinks; Grafana does not register it`
      );
      return;
    }
    let overrides: ReturnType<NonNullable<PluginExtensionAddedLinkConfig['configure']>> = {};
    if (config.configure) {
      try {
        overrides = config.configure(frozen);
      } catch (e) {
        console.warn(`[preview host] configure() of link "${config.title}" threw; the link is hidden`, e);
        return;
      }
      if (overrides === undefined) {
        return;
      }
    }
    const path = overrides?.path ?? config.path;
    if (path && !path.startsWith(`/a/${pluginId}/`)) {
      console.warn(
        `[preview host] link "${config.title}" has path ${path}, which is not under /a/${pluginId}/; Grafana drops it`
      );
      return;
    }
    const helpers: PluginExtensionEventHelpers<object> = {
      context: frozen,
      extensionPointId,
      openModal,
      openSidebar: () => {},
      closeSidebar: () => {},
      toggleSidebar: () => {},
    };
    const onClick = config.onClick;
    links.push({
      id: `${pluginId}/${extensionPointId}/${index}`,
      type: PluginExtensionTypes.link,
      pluginId,
      title: overrides?.title ?? config.title,
      description: overrides?.description ?? config.description ?? '',
      path,
      icon: overrides?.icon ?? config.icon,
      category: overrides?.category ?? config.category,
      group: overrides?.group ?? config.group,
      openInNewTab: overrides?.openInNewTab ?? config.openInNewTab,
      onClick: onClick ? (event?: React.MouseEvent) => onClick(event, helpers) : undefined,
    });
  });
  return links;
}

const withMeta = new WeakMap<object, ComponentTypeWithExtensionMeta<{}>>();

function getPluginComponents(extensionPointId: string, limitPerPlugin?: number): PluginExtensionComponent[] {
  if (!app) {
    return [];
  }
  const pluginId = app.meta.id;
  return app.addedComponentConfigs
    .filter((c) => targetsOf(c.targets).includes(extensionPointId))
    .slice(0, limitPerPlugin)
    .map((c, i) => ({
      id: `${pluginId}/${extensionPointId}/${i}`,
      type: PluginExtensionTypes.component,
      pluginId,
      title: c.title,
      description: c.description,
      component: c.component,
    }));
}

/** The component with the meta Grafana attaches (usePluginComponents returns these). */
function componentWithMeta(ext: PluginExtensionComponent): ComponentTypeWithExtensionMeta<{}> {
  let wrapped = withMeta.get(ext.component);
  if (!wrapped) {
    const Inner = ext.component;
    const { component: _c, ...meta } = ext;
    wrapped = Object.assign((props: {}) => <Inner {...props} />, { meta, displayName: `Extension(${ext.title})` });
    withMeta.set(ext.component, wrapped);
  }
  return wrapped;
}

/** Installs the extension hooks and observables of @grafana/runtime. */
export function installExtensionServices() {
  setPluginLinksHook((options) => {
    const version = useRegistryVersion();
    const key = JSON.stringify([options.extensionPointId, options.limitPerPlugin, version]);
    // eslint-disable-next-line react-hooks/exhaustive-deps
    const links = useMemo(() => getPluginLinks(options), [key, options.context]);
    return { links, isLoading: false };
  });
  setPluginComponentsHook(({ extensionPointId, limitPerPlugin }) => {
    const version = useRegistryVersion();
    const components = useMemo(
      () => getPluginComponents(extensionPointId, limitPerPlugin).map(componentWithMeta),
      // eslint-disable-next-line react-hooks/exhaustive-deps
      [extensionPointId, limitPerPlugin, version]
    );
    return { components, isLoading: false };
  });
  setPluginComponentHook((id: string) => {
    const version = useRegistryVersion();
    const component = useMemo(
      () => app?.exposedComponentConfigs.find((c) => c.id === id)?.component ?? null,
      // eslint-disable-next-line react-hooks/exhaustive-deps
      [id, version]
    );
    return { component, isLoading: false };
  });
  setPluginFunctionsHook(({ extensionPointId, limitPerPlugin }) => {
    const version = useRegistryVersion();
    const functions = useMemo((): Array<PluginExtensionFunction<unknown>> => {
      if (!app) {
        return [];
      }
      const pluginId = app.meta.id;
      return app.addedFunctionConfigs
        .filter((c) => targetsOf(c.targets).includes(extensionPointId))
        .slice(0, limitPerPlugin)
        .map((c, i) => ({
          id: `${pluginId}/${extensionPointId}/${i}`,
          type: PluginExtensionTypes.function,
          pluginId,
          title: c.title,
          description: c.description ?? '',
          fn: c.fn,
        }));
      // eslint-disable-next-line react-hooks/exhaustive-deps
    }, [extensionPointId, limitPerPlugin, version]);
    return { functions, isLoading: false };
  });
  setGetObservablePluginLinks((options) => of(getPluginLinks(options)));
  setGetObservablePluginComponents((options) =>
    of(getPluginComponents(options.extensionPointId, options.limitPerPlugin))
  );
}
