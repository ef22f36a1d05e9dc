// The user's key lives in the browser's storage, entered once.
const STORAGE_KEY = 'pictor.apiKey';

export function storedKey(): string {
  return localStorage.getItem(STORAGE_KEY) ?? '';
}

export function storeKey(key: string): void {
  if (key === '') localStorage.removeItem(STORAGE_KEY);
  else localStorage.setItem(STORAGE_KEY, key);
}
