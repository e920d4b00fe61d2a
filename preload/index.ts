// placeholder replaced by the app-shell work
export {};
