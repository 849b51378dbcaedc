import { h } from '../shared/dom.js';
import { toMnistPixels } from './image-to-mnist.js';

/** A canvas to draw a digit on with mouse, pen or finger: dark ink on white paper, read back as 28x28. */
export class DrawPad {
  readonly canvas: HTMLCanvasElement;
  private readonly ctx: CanvasRenderingContext2D;
  private drawing = false;
  private inked = false;
  /** Called when a stroke ends. */
  onStroke: (() => void) | null = null;

  constructor(label: string, size = 224) {
    this.canvas = h('canvas', { width: size, height: size, className: 'draw-pad', 'aria-label': label });
    const ctx = this.canvas.getContext('2d', { willReadFrequently: true });
    if (!ctx) throw new Error('this browser cannot draw on a canvas');
    this.ctx = ctx;
    this.clear();
    this.canvas.addEventListener('pointerdown', (e) => this.start(e));
    this.canvas.addEventListener('pointermove', (e) => this.move(e));
    for (const type of ['pointerup', 'pointerleave', 'pointercancel'] as const) this.canvas.addEventListener(type, () => this.end());
  }

  clear(): void {
    const { ctx, canvas } = this;
    ctx.fillStyle = '#fff';
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    ctx.strokeStyle = '#000';
    ctx.fillStyle = '#000';
    ctx.lineWidth = canvas.width / 14;
    ctx.lineCap = 'round';
    ctx.lineJoin = 'round';
    this.inked = false;
  }

  get isEmpty(): boolean {
    return !this.inked;
  }

  /** The drawing as 784 MNIST grey levels, or null when nothing is drawn. */
  toMnist(): Uint8Array | null {
    if (!this.inked) return null;
    return toMnistPixels(this.ctx.getImageData(0, 0, this.canvas.width, this.canvas.height));
  }

  private point(e: PointerEvent): [number, number] {
    const rect = this.canvas.getBoundingClientRect();
    return [((e.clientX - rect.left) * this.canvas.width) / rect.width, ((e.clientY - rect.top) * this.canvas.height) / rect.height];
  }

  private start(e: PointerEvent): void {
    e.preventDefault();
    this.canvas.setPointerCapture?.(e.pointerId);
    this.drawing = true;
    const [x, y] = this.point(e);
    this.ctx.beginPath();
    this.ctx.arc(x, y, this.ctx.lineWidth / 2, 0, Math.PI * 2);
    this.ctx.fill();
    this.ctx.beginPath();
    this.ctx.moveTo(x, y);
    this.inked = true;
  }

  private move(e: PointerEvent): void {
    if (!this.drawing) return;
    const [x, y] = this.point(e);
    this.ctx.lineTo(x, y);
    this.ctx.stroke();
  }

  private end(): void {
    if (!this.drawing) return;
    this.drawing = false;
    this.onStroke?.();
  }
}

/** A 28x28 digit as a small canvas (thumbnails). */
export function digitThumbnail(pixels: Uint8Array, title: string, scale = 2): HTMLCanvasElement {
  const canvas = h('canvas', { width: 28, height: 28, className: 'thumb', title, role: 'img', 'aria-label': title });
  canvas.style.width = canvas.style.height = `${28 * scale}px`;
  const ctx = canvas.getContext('2d');
  if (ctx) {
    const image = ctx.createImageData(28, 28);
    pixels.forEach((v, i) => image.data.set([v, v, v, 255], i * 4));
    ctx.putImageData(image, 0, 0);
  }
  return canvas;
}

/** Draws an image file onto a canvas (at most 280 px on its long side) and reads it back as RGBA. */
export async function imageFileToRgba(file: Blob): Promise<ImageData> {
  const bitmap = await createImageBitmap(file);
  try {
    const scale = Math.min(1, 280 / Math.max(bitmap.width, bitmap.height));
    const width = Math.max(1, Math.round(bitmap.width * scale));
    const height = Math.max(1, Math.round(bitmap.height * scale));
    const canvas = document.createElement('canvas');
    canvas.width = width;
    canvas.height = height;
    const ctx = canvas.getContext('2d', { willReadFrequently: true });
    if (!ctx) throw new Error('this browser cannot draw on a canvas');
    ctx.drawImage(bitmap, 0, 0, width, height);
    return ctx.getImageData(0, 0, width, height);
  } finally {
    bitmap.close();
  }
}
